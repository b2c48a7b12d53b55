// Projects: creating one from a template, and where DLNest's templates and CMake package are.
#pragma once

#include <string>

#include "dlnest/status.h"

namespace dlnest {

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
