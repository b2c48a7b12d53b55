// Building a user project into its plugin with CMake, incrementally.
#pragma once

#include <string>

#include "dlnest/status.h"

namespace dlnest {

struct BuildOptions {
  std::string dlnest_cmake_dir;  ///< folder with DLNestConfig.cmake
  bool verbose = false;          ///< echo the build output as it comes
};

/// The plugin file of a project built by build_project().
std::string project_plugin_path(const std::string& project_dir);

/// Configures (first time) and builds the project in `<project>/.dlnest/build`; returns the
/// plugin file. A failed build returns an error holding the compiler's output.
Result<std::string> build_project(const std::string& project_dir, const BuildOptions& options);

/// The folder holding the project templates: $DLNEST_TEMPLATE_DIR, else the source tree's
/// templates/.
std::string default_template_dir();

/// Creates a new project in `target_dir` (which must not exist) from the MNIST template or the
/// empty one. Errors name the folder at fault.
Status create_project(const std::string& target_dir, bool mnist,
                      const std::string& template_dir = default_template_dir());

/// The folder with DLNestConfig.cmake: $DLNEST_CMAKE_DIR, else the build tree of this binary.
std::string default_dlnest_cmake_dir();

}  // namespace dlnest
