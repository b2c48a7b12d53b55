// Turning a project config into a save package ready to train ("copy, then run"): draw the
// seed, copy the sources and what CMake needs to build them. Building the package's plugin is a
// separate step (build_package()), the first stage of a training task.
#pragma once

#include <string>

#include "dlnest/save_package.h"
#include "project/package_builder.h"
#include "project/project_builder.h"

namespace dlnest {

struct TrainSubmission {
  std::string config_path;
  std::string freq_path;
  PackageOptions package;
  BuildOptions build;  ///< for create_and_build_train_package()
};

/// A save package made for a training task, and the project it was made from.
struct CreatedPackage {
  std::string package_dir;  ///< the new save package (absolute)
  std::string project_dir;  ///< the config's root_file_path: its .dlnest/ caches the builds
};

/// Loads the config, draws the seed (written into args.json, so the package reproduces its run)
/// and creates the save package with the project's files and its CMakeLists.txt, so that the
/// package builds on its own. Nothing is compiled: pass the result to build_package().
Result<CreatedPackage> create_train_package(const TrainSubmission& submission);

/// create_train_package(), then build_package() with `submission.build`. A failed build removes
/// the package again (and save_root, when that leaves it empty) and returns the build's error.
/// Returns the package folder. For training in the foreground.
Result<std::string> create_and_build_train_package(const TrainSubmission& submission);

}  // namespace dlnest
