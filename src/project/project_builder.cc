#include "project/project_builder.h"

#include <cstdlib>

#include "dlnest/env.h"
#include "env/path.h"

namespace dlnest {

namespace {

/// The folder above the running binary's folder: <prefix>/bin/dlnest gives <prefix>.
std::string own_prefix() {
  char* exe = ::realpath("/proc/self/exe", nullptr);
  if (exe == nullptr) return ".";
  const std::string prefix = path::parent(path::parent(exe));
  std::free(exe);
  return prefix;
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

}  // namespace

InstallLayout InstallLayout::under(const std::string& prefix) {
  InstallLayout layout;
  layout.cmake_dir = path::join(prefix, "lib/cmake/DLNest");
  layout.template_dir = path::join(prefix, "share/dlnest/templates");
  layout.toolchain_dir = path::join(prefix, "share/dlnest/toolchain");
  return layout;
}

InstallLayout install_layout() {
  InstallLayout layout = InstallLayout::under(own_prefix());
  layout.cmake_dir = env_or("DLNEST_CMAKE_DIR", layout.cmake_dir);
  layout.template_dir = env_or("DLNEST_TEMPLATE_DIR", layout.template_dir);
  layout.toolchain_dir = env_or("DLNEST_TOOLCHAIN_DIR", layout.toolchain_dir);
  return layout;
}

std::string default_dlnest_cmake_dir() {
  return install_layout().cmake_dir;
}

std::string default_template_dir() {
  return install_layout().template_dir;
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

}  // namespace dlnest
