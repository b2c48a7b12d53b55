// Adding training plugins to a project's config, as the original's `addP` (UsePlugin) did:
// the names go to `plugins` and their options to `plugins_config`, in the project's
// plugins_config.json when it has one, else in its root_config.json.
#pragma once

#include <string>
#include <vector>

#include "dlnest/status.h"

namespace dlnest {

/// What add_plugins did.
struct AddedPlugins {
  std::string config_file;           ///< the file it wrote (or would have)
  std::vector<std::string> added;    ///< names newly listed
  std::vector<std::string> already;  ///< names the config listed before
  std::vector<std::string>
      user;  ///< added names that are no built-in (the project must register them)
};

/// Lists the names of `values` (each may hold several names separated by spaces) in the plugins of
/// the project in `project_dir`, with their default options (every option with `full`) for the
/// built-ins. A name that is not a C++ identifier, a missing folder or config file, and a config
/// whose `plugins` / `plugins_config` have the wrong type are refused, naming the thing at
/// fault; nothing is written then.
Result<AddedPlugins> add_plugins(const std::string& project_dir,
                                 const std::vector<std::string>& values, bool full);

/// Splits each of `values` at spaces (the original client sent "A B C"), dropping empty words.
std::vector<std::string> split_plugin_names(const std::vector<std::string>& values);

}  // namespace dlnest
