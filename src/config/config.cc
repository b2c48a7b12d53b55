#include "dlnest/config.h"

#include <algorithm>

#include "config/json_file.h"
#include "env/path.h"

namespace dlnest {

namespace {

constexpr int kMaxConfigDepth = 64;
constexpr const char* kChildJsons = "child_jsons";

const char* const kStringKeys[] = {"save_root",           "runner_name",       "dataset_name",
                                   "life_cycle_name",     "root_file_path",    "runner_file_path",
                                   "dataset_file_path",   "life_cycle_file_path"};
const char* const kStringListKeys[] = {"other_file_paths", kChildJsons, "plugins"};
const char* const kCheckpointKeys[] = {"max_ckpt_in_slow_track", "dilation_in_slow_track",
                                       "max_ckpt_in_fast_track", "max_ckpt_in_consistent_track",
                                       "every_steps"};
/// Keys DLNest reads as non-negative integers ("seed" has a message of its own).
const char* const kCountKeys[] = {"epochs"};
const char* const kFileKeys[] = {"runner_file_path", "dataset_file_path", "life_cycle_file_path"};

class ConfigLoader {
 public:
  explicit ConfigLoader(Env* env) : env_(env) {}

  Status load(const std::string& file, Json& args) {
    if (std::find(stack_.begin(), stack_.end(), file) != stack_.end() ||
        stack_.size() >= kMaxConfigDepth) {
      std::string chain;
      for (const std::string& f : stack_) chain += f + " -> ";
      return Status::invalid_argument("child_jsons cycle: " + chain + file);
    }
    auto value = read_json_object(env_, file);
    if (!value.is_ok()) return value.status();
    DLNEST_RETURN_IF_ERROR(check_known_keys(*value, file));
    for (const auto& [key, item] : value->items()) {
      if (key != kChildJsons) merge_args(args[key], item);
    }
    files_.push_back(file);
    stack_.push_back(file);
    Status s = load_children(file, *value, args);
    stack_.pop_back();
    return s;
  }

  std::vector<std::string> files() const { return files_; }

 private:
  Status load_children(const std::string& file, const Json& value, Json& args) {
    auto it = value.find(kChildJsons);
    if (it == value.end()) return Status::ok();
    for (size_t i = 0; i < it->size(); ++i) {
      const std::string child = (*it)[i].get<std::string>();
      const std::string child_path = path::normalize(path::join(path::parent(file), child));
      if (!env_->file_exists(child_path)) {
        return Status::not_found(file + ": child_jsons[" + std::to_string(i) + "] \"" + child +
                                 "\": no such file " + child_path);
      }
      DLNEST_RETURN_IF_ERROR(load(child_path, args));
    }
    return Status::ok();
  }

  Env* env_;
  std::vector<std::string> stack_;
  std::vector<std::string> files_;
};

/// "plugins_config" is an object of objects, keyed by plugin name.
Status check_plugins_config(const Json& config, const std::string& file) {
  if (!config.is_object()) {
    return Status::invalid_argument(file +
                                    ": \"plugins_config\" must be an object keyed by plugin "
                                    "name, got " +
                                    std::string(config.type_name()));
  }
  for (const auto& [name, options] : config.items()) {
    if (!options.is_object()) {
      return Status::invalid_argument(file + ": \"plugins_config\": \"" + name +
                                      "\" must be an object of options, got " +
                                      std::string(options.type_name()));
    }
  }
  return Status::ok();
}

Status check_checkpoint_args(const Json& ckpt, const std::string& file) {
  if (!ckpt.is_object()) {
    return Status::invalid_argument(file + ": \"checkpoint_args\" must be an object, got " +
                                    std::string(ckpt.type_name()));
  }
  for (const char* key : kCheckpointKeys) {
    auto it = ckpt.find(key);
    if (it == ckpt.end()) continue;
    const bool ok = it->is_number_integer() && it->get<long long>() >= 0 &&
                    (std::string(key) != "dilation_in_slow_track" || it->get<long long>() >= 1);
    if (!ok) {
      return Status::invalid_argument(file + ": \"checkpoint_args." + key + "\" must be " +
                                      (std::string(key) == "dilation_in_slow_track"
                                           ? "a positive integer"
                                           : "a non-negative integer") +
                                      ", got " + it->dump());
    }
  }
  auto minutes = ckpt.find("every_minutes");
  if (minutes != ckpt.end() && (!minutes->is_number() || minutes->get<double>() < 0)) {
    return Status::invalid_argument(file +
                                    ": \"checkpoint_args.every_minutes\" must be a non-negative "
                                    "number, got " +
                                    std::string(minutes->type_name()));
  }
  return Status::ok();
}

}  // namespace

void merge_args(Json& args, const Json& overlay) {
  if (!overlay.is_object() || !args.is_object()) {
    args = overlay;
    return;
  }
  for (const auto& [key, value] : overlay.items()) merge_args(args[key], value);
}

Status check_known_keys(const Json& object, const std::string& file) {
  for (const char* key : kStringKeys) {
    auto it = object.find(key);
    if (it != object.end() && !it->is_string()) {
      return Status::invalid_argument(file + ": \"" + key + "\" must be a string, got " +
                                      std::string(it->type_name()));
    }
  }
  for (const char* key : kStringListKeys) {
    auto it = object.find(key);
    if (it == object.end()) continue;
    const bool ok = it->is_array() && std::all_of(it->begin(), it->end(),
                                                   [](const Json& v) { return v.is_string(); });
    if (!ok) {
      return Status::invalid_argument(file + ": \"" + key +
                                      "\" must be an array of strings, got " + it->dump());
    }
  }
  for (const char* key : kCountKeys) {
    auto it = object.find(key);
    if (it != object.end() && !it->is_number_unsigned()) {
      return Status::invalid_argument(file + ": \"" + key + "\" must be a non-negative integer, got " +
                                      std::string(it->type_name()));
    }
  }
  auto seed = object.find("seed");
  if (seed != object.end() && !seed->is_number_unsigned()) {
    return Status::invalid_argument(file + ": \"seed\" must be a non-negative integer, got " +
                                    seed->dump());
  }
  auto plugins_config = object.find("plugins_config");
  if (plugins_config != object.end()) {
    DLNEST_RETURN_IF_ERROR(check_plugins_config(*plugins_config, file));
  }
  auto ckpt = object.find("checkpoint_args");
  if (ckpt != object.end()) return check_checkpoint_args(*ckpt, file);
  return Status::ok();
}

Result<LoadedConfig> load_config(const std::string& root_config, const std::string& freq_path,
                                 Env* env) {
  LoadedConfig config;
  config.root_config = path::absolute(root_config);
  config.args = Json::object();
  ConfigLoader loader(env);
  if (!env->file_exists(config.root_config)) {
    return Status::not_found("root config " + config.root_config + ": no such file");
  }
  DLNEST_RETURN_IF_ERROR(loader.load(config.root_config, config.args));
  if (!freq_path.empty()) {
    const std::string freq = path::absolute(freq_path);
    if (!env->file_exists(freq)) return Status::not_found("freq config " + freq + ": no such file");
    DLNEST_RETURN_IF_ERROR(loader.load(freq, config.args));
  }
  config.config_files = loader.files();
  Json& args = config.args;
  const std::string root_dir = path::parent(config.root_config);
  const std::string root = path::normalize(
      path::join(root_dir, args.value("root_file_path", std::string("."))));
  args["root_file_path"] = root;
  if (args.contains("save_root")) {
    args["save_root"] = path::normalize(path::join(root, args["save_root"].get<std::string>()));
  }
  return config;
}

std::vector<ProjectFile> resolve_project_files(const Json& args) {
  std::vector<ProjectFile> out;
  const std::string root = args.value("root_file_path", std::string("."));
  auto add = [&](const std::string& key, const Json& written) {
    if (!written.is_string()) return;
    const std::string rel = written.get<std::string>();
    out.push_back({key, rel, path::normalize(path::join(root, rel))});
  };
  for (const char* key : kFileKeys) {
    if (args.contains(key)) add(std::string("/") + key, args[key]);
  }
  auto others = args.find("other_file_paths");
  if (others != args.end() && others->is_array()) {
    for (size_t i = 0; i < others->size(); ++i) {
      add("/other_file_paths/" + std::to_string(i), (*others)[i]);
    }
  }
  return out;
}

}  // namespace dlnest
