#include "project/project_builder.h"

#include <cstdlib>
#include <iostream>

#include "dlnest/env.h"
#include "env/path.h"
#include "process/subprocess.h"

namespace dlnest {

namespace {

constexpr const char* kBuildDir = ".dlnest/build";
constexpr size_t kMaxErrorOutput = 64 * 1024;

Status run_step(const std::vector<std::string>& argv, const std::string& what,
                const BuildOptions& options) {
  auto echo = [&options](std::string_view text) {
    if (options.verbose) std::cout << text << std::flush;
  };
  auto result = run_process(argv, "", echo);
  if (!result.is_ok()) return result.status();
  if (result->exit_code == 0) return Status::ok();
  std::string output = result->output;
  if (output.size() > kMaxErrorOutput) {
    output = "...\n" + output.substr(output.size() - kMaxErrorOutput);
  }
  return Status::invalid_argument(what + " failed (exit code " +
                                  std::to_string(result->exit_code) + "):\n" + output);
}

}  // namespace

std::string project_plugin_path(const std::string& project_dir) {
  return path::join(path::join(project_dir, kBuildDir), "dlnest_plugin.so");
}

std::string default_dlnest_cmake_dir() {
  const char* env = std::getenv("DLNEST_CMAKE_DIR");
  return env != nullptr ? env : DLNEST_BUILD_TREE;
}

std::string default_template_dir() {
  const char* env = std::getenv("DLNEST_TEMPLATE_DIR");
  return env != nullptr ? env : DLNEST_SOURCE_TREE "/templates";
}

Status create_project(const std::string& target_dir, bool mnist, const std::string& template_dir) {
  Env* env = Env::default_env();
  const std::string target = path::absolute(target_dir);
  const std::string source = path::join(template_dir, mnist ? "mnist" : "empty");
  if (env->file_exists(target)) return Status::already_exists(target + " already exists");
  if (!env->is_directory(source)) {
    return Status::not_found("template folder " + source + " is missing");
  }
  return copy_tree(env, source, target);
}

Result<std::string> build_project(const std::string& project_dir, const BuildOptions& options) {
  Env* env = Env::default_env();
  if (!env->file_exists(path::join(project_dir, "CMakeLists.txt"))) {
    return Status::not_found("project " + project_dir + " has no CMakeLists.txt");
  }
  const std::string build_dir = path::join(project_dir, kBuildDir);
  if (!env->file_exists(path::join(build_dir, "build.ninja"))) {
    DLNEST_RETURN_IF_ERROR(run_step({"cmake", "-S", project_dir, "-B", build_dir, "-G", "Ninja",
                                     "-DCMAKE_BUILD_TYPE=Release",
                                     "-DDLNest_DIR=" + options.dlnest_cmake_dir},
                                    "configuring " + project_dir, options));
  }
  DLNEST_RETURN_IF_ERROR(
      run_step({"cmake", "--build", build_dir}, "building " + project_dir, options));
  const std::string plugin = project_plugin_path(project_dir);
  if (!env->file_exists(plugin)) {
    return Status::not_found("building " + project_dir + " made no " + plugin +
                             " (does CMakeLists.txt call dlnest_add_project?)");
  }
  return plugin;
}

}  // namespace dlnest
