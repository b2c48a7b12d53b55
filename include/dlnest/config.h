// Loading a project's configuration: root_config.json, its child_jsons and a freq file, merged
// into one argument object with the original DLNest rules (see docs/config.md).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dlnest/env.h"
#include "dlnest/status.h"

namespace dlnest {

using Json = nlohmann::json;

/// Merges `overlay` into `args`: a new key or a non-object value overwrites, arrays are replaced
/// whole, objects merge key by key, recursively.
void merge_args(Json& args, const Json& overlay);

/// The merged arguments of a project and where they came from.
struct LoadedConfig {
  Json args;  ///< merged; `root_file_path` and `save_root` made absolute
  std::string root_config;                ///< absolute path of the root config
  std::vector<std::string> config_files;  ///< every file merged, absolute, in merge order
};

/// Loads `root_config` then its child_jsons (depth-first, in listed order, relative to the file
/// that lists them), then `freq_path` (if not empty) and its own child_jsons. Later files win.
/// A relative `root_file_path` resolves against the root config's folder, a relative
/// `save_root` against `root_file_path`.
/// Every file is read with Env::read_bounded_file (a regular file of at most 16 MiB; a FIFO, a
/// device or a folder is refused at once). Errors name the file at fault, with line and column
/// for JSON syntax errors, and never quote its content.
Result<LoadedConfig> load_config(const std::string& root_config, const std::string& freq_path = "",
                                 Env* env = Env::default_env());

/// Checks the types of the keys DLNest itself reads (save_root, checkpoint_args, *_file_path...)
/// in one file's object; `file` names it in the error.
Status check_known_keys(const Json& object, const std::string& file);

/// One project file named by the arguments.
struct ProjectFile {
  std::string key;       ///< JSON pointer to the entry in args, e.g. "/other_file_paths/0"
  std::string written;   ///< the path as written in the config
  std::string absolute;  ///< resolved against root_file_path
};

/// The runner, dataset, life cycle and other_file_paths entries, resolved against
/// `root_file_path` (which load_config() made absolute). Keys that are absent are skipped.
std::vector<ProjectFile> resolve_project_files(const Json& args);

}  // namespace dlnest
