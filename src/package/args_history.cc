#include "package/args_history.h"

#include <ctime>

#include "config/json_file.h"
#include "dlnest/save_package.h"
#include "env/path.h"

namespace dlnest {
namespace {

/// One setting "a.b=v" as the overlay {"a":{"b":v}}.
Result<Json> setting_overlay(const std::string& setting) {
  const size_t eq = setting.find('=');
  const std::string key = setting.substr(0, eq);
  if (eq == std::string::npos || key.empty() || key.front() == '.' || key.back() == '.' ||
      key.find("..") != std::string::npos) {
    return Status::invalid_argument("setting \"" + setting +
                                    "\" is not KEY=VALUE (KEY may be dotted: optimizer.lr=1e-4)");
  }
  const std::string text = setting.substr(eq + 1);
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) value = text;
  Json overlay = std::move(value);
  for (size_t end = key.size(); end != std::string::npos;) {
    const size_t dot = key.rfind('.', end - 1);
    const size_t begin = dot == std::string::npos ? 0 : dot + 1;
    overlay = Json{{key.substr(begin, end - begin), std::move(overlay)}};
    end = dot;
  }
  return overlay;
}

/// Every value in `args` by its dotted key (objects are walked, arrays are values).
void flatten(const Json& args, const std::string& prefix, Json& out) {
  for (const auto& [key, value] : args.items()) {
    const std::string name = prefix.empty() ? key : prefix + "." + key;
    if (value.is_object() && !value.empty()) {
      flatten(value, name, out);
    } else {
      out[name] = value;
    }
  }
}

/// {"key": {"from": old, "to": new}} for each dotted key whose value differs (null: absent).
Json differences(const Json& before, const Json& after) {
  Json old_values = Json::object();
  Json new_values = Json::object();
  flatten(before, "", old_values);
  flatten(after, "", new_values);
  Json changed = Json::object();
  for (const auto& [key, value] : new_values.items()) {
    const Json old_value = old_values.value(key, Json());
    if (old_value != value) changed[key] = Json{{"from", old_value}, {"to", value}};
  }
  for (const auto& [key, value] : old_values.items()) {
    if (!new_values.contains(key)) changed[key] = Json{{"from", value}, {"to", nullptr}};
  }
  return changed;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

Result<Json> args_overlay(const ArgsChanges& changes, Env* env) {
  Json overlay = Json::object();
  if (!changes.freq_path.empty()) {
    DLNEST_ASSIGN_OR_RETURN(overlay, read_json_object(env, changes.freq_path));
    overlay.erase("child_jsons");
  }
  for (const std::string& setting : changes.settings) {
    DLNEST_ASSIGN_OR_RETURN(Json one, setting_overlay(setting));
    merge_args(overlay, one);
  }
  return overlay;
}

Result<Json> read_args_history(const std::string& package_dir, Env* env) {
  const std::string file = path::join(package_dir, kArgsHistoryFile);
  if (!env->file_exists(file)) return Json::array();
  DLNEST_ASSIGN_OR_RETURN(Json history, read_json_object(env, file, package_dir));
  Json entries = history.value("changes", Json::array());
  if (!entries.is_array()) return Status::corruption(file + ": \"changes\" is not an array");
  return entries;
}

Result<Json> change_package_args(const std::string& package_dir, const ArgsChanges& changes,
                                 int checkpoint_id, Env* env) {
  DLNEST_ASSIGN_OR_RETURN(Json overlay, args_overlay(changes, env));
  const std::string args_file = path::join(package_dir, SavePackage::kArgsFile);
  DLNEST_ASSIGN_OR_RETURN(Json args, read_json_object(env, args_file, package_dir));
  const Json before = args;
  merge_args(args, overlay);
  Json entry = {{"time", utc_now()},
                {"checkpoint_ID", checkpoint_id},
                {"changed", differences(before, args)}};
  if (!changes.freq_path.empty()) entry["freq_path"] = changes.freq_path;
  if (!changes.settings.empty()) entry["set"] = changes.settings;
  DLNEST_ASSIGN_OR_RETURN(Json entries, read_args_history(package_dir, env));
  entries.push_back(std::move(entry));
  const Json history = {{"changes", std::move(entries)}};
  DLNEST_RETURN_IF_ERROR(write_file_atomically(env, path::join(package_dir, kArgsHistoryFile),
                                               history.dump(4) + "\n"));
  DLNEST_RETURN_IF_ERROR(write_file_atomically(env, args_file, args.dump(4) + "\n"));
  return args;
}

}  // namespace dlnest
