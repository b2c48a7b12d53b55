// Projects: creating one from a template, and where DLNest's templates, CMake package and
// toolchain are.
#pragma once

#include <string>

#include "dlnest/status.h"

namespace dlnest {

/// Where DLNest keeps what its binaries need. An installation and a build tree share one
/// layout below a prefix, the folder above the binaries' bin/: lib/cmake/DLNest/ (the CMake
/// package), share/dlnest/templates/ and share/dlnest/toolchain/. Binaries find it relative to
/// themselves, so an installation works in any prefix.
struct InstallLayout {
  std::string cmake_dir;      ///< DLNestConfig.cmake
  std::string template_dir;   ///< the project templates
  std::string toolchain_dir;  ///< script_flags.txt and the precompiled header of user code

  /// The layout below `prefix`.
  static InstallLayout under(const std::string& prefix);
};

/// The layout of the running binary's prefix; $DLNEST_CMAKE_DIR, $DLNEST_TEMPLATE_DIR and
/// $DLNEST_TOOLCHAIN_DIR override its folders one by one.
InstallLayout install_layout();

/// install_layout().template_dir.
std::string default_template_dir();

/// install_layout().cmake_dir.
std::string default_dlnest_cmake_dir();

/// Creates a new project in `target_dir` (which must not exist) from the MNIST template or the
/// empty one. Errors name the folder at fault.
Status create_project(const std::string& target_dir, bool mnist,
                      const std::string& template_dir = default_template_dir());

}  // namespace dlnest
