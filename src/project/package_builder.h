// Building a save package's plugin from exactly the sources the package holds, through a build
// cache in its project (see docs/save_package.md, "Building a package").
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "dlnest/status.h"

namespace dlnest {

/// How build_package() builds.
struct BuildOptions {
  std::string dlnest_cmake_dir;  ///< folder with DLNestConfig.cmake
  /// Sees the progress lines ("[build] ...") and the output of CMake, ninja and the compiler as
  /// they come; unset: the output is only kept for the error.
  std::function<void(std::string_view)> output;
};

/// Builds the plugin of the save package `package_dir` from exactly the files the package holds
/// and puts it into the package (SavePackage::kPluginFile); returns that file.
///
/// The build cache lives in `<project_dir>/.dlnest/`: stage/ (the package's sources, synced file
/// by file), build/ (CMake + Ninja, configured for stage/; configured again when it was made for
/// another folder) and the digest of the last sources built, so an unchanged resubmit copies the
/// last plugin without running CMake or the compiler. Builds of one project take turns (an
/// exclusive flock on `.dlnest/build.lock`); builds of different projects run side by side.
///
/// A failed build returns an error whose first line is the compiler's first error line (the
/// path relative to the package), followed by the build's output (its last 64 KiB).
Result<std::string> build_package(const std::string& package_dir, const std::string& project_dir,
                                  const BuildOptions& options);

/// Configures the project in `project_dir` itself (not a package of it) into
/// `<project_dir>/.dlnest/ide/` and links `<project_dir>/compile_commands.json` to the compile
/// database there, where editors (clangd) look for it. Run again after adding a source folder.
Status write_compile_commands(const std::string& project_dir, const BuildOptions& options);

/// The first line of an error's message: for a failed build_package(), the compiler's first
/// error line.
std::string build_error_headline(const Status& status);

}  // namespace dlnest
