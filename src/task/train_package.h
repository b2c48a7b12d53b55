// Turning a project config into a save package ready to train: build the project, draw the
// seed, copy sources and the built plugin ("copy, then run").
#pragma once

#include <string>

#include "dlnest/save_package.h"
#include "project/project_builder.h"

namespace dlnest {

/// The plugin file in a save package.
inline constexpr const char* kPackagePluginFile = "dlnest_plugin.so";

struct TrainSubmission {
  std::string config_path;
  std::string freq_path;
  PackageOptions package;
  BuildOptions build;
};

/// Builds the project named by the config (a compile error comes back as the error, and no
/// package is made), then creates the save package with the plugin in it. Returns its folder.
Result<std::string> create_train_package(const TrainSubmission& submission);

}  // namespace dlnest
