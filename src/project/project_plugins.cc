#include "project/project_plugins.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "config/builtin_plugins.h"
#include "config/json_file.h"
#include "dlnest/env.h"
#include "env/path.h"

namespace dlnest {

namespace {

constexpr const char* kPluginsFile = "plugins_config.json";
constexpr const char* kRootFile = "root_config.json";

bool is_identifier(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

/// The file that holds the project's plugins: plugins_config.json, else root_config.json.
Result<std::string> plugins_file(const std::string& project_dir) {
  Env* env = Env::default_env();
  const std::string dir = path::absolute(project_dir);
  if (!env->is_directory(dir)) return Status::not_found("target_dir " + dir + ": no such folder");
  const std::string plugins = path::join(dir, kPluginsFile);
  if (env->file_exists(plugins)) return plugins;
  const std::string root = path::join(dir, kRootFile);
  if (env->file_exists(root)) return root;
  return Status::not_found("target_dir " + dir + ": neither " + kPluginsFile + " nor " + kRootFile +
                           " is there");
}

/// Gives `config` a `plugins` array and a `plugins_config` object, or says which is mistyped.
Status prepare(Json& config, const std::string& file) {
  if (!config.contains("plugins")) config["plugins"] = Json::array();
  if (!config.contains("plugins_config")) config["plugins_config"] = Json::object();
  if (!config["plugins"].is_array()) {
    return Status::invalid_argument(file + ": \"plugins\" must be an array of names");
  }
  if (!config["plugins_config"].is_object()) {
    return Status::invalid_argument(file + ": \"plugins_config\" must be an object");
  }
  return Status::ok();
}

}  // namespace

std::vector<std::string> split_plugin_names(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& value : values) {
    std::istringstream words(value);
    for (std::string word; words >> word;) out.push_back(word);
  }
  return out;
}

Result<AddedPlugins> add_plugins(const std::string& project_dir,
                                 const std::vector<std::string>& values, bool full) {
  const std::vector<std::string> names = split_plugin_names(values);
  if (names.empty()) return Status::invalid_argument("plugins: no plugin name given");
  for (const std::string& name : names) {
    if (!is_identifier(name)) {
      return Status::invalid_argument("plugins: \"" + name +
                                      "\" is not a plugin name (a C++ class name)");
    }
  }
  AddedPlugins result;
  DLNEST_ASSIGN_OR_RETURN(result.config_file, plugins_file(project_dir));
  Env* env = Env::default_env();
  DLNEST_ASSIGN_OR_RETURN(Json config, read_json_object(env, result.config_file));
  DLNEST_RETURN_IF_ERROR(prepare(config, result.config_file));
  for (const std::string& name : names) {
    Json& listed = config["plugins"];
    if (std::find(listed.begin(), listed.end(), Json(name)) != listed.end()) {
      result.already.push_back(name);
      continue;
    }
    listed.push_back(name);
    result.added.push_back(name);
    const std::optional<Json> options = builtin_plugin_template(name, full);
    if (!options) result.user.push_back(name);
    if (options && !options->empty() && !config["plugins_config"].contains(name)) {
      config["plugins_config"][name] = *options;
    }
  }
  if (result.added.empty()) return result;
  DLNEST_RETURN_IF_ERROR(write_file_atomically(env, result.config_file, config.dump(4) + "\n"));
  return result;
}

}  // namespace dlnest
