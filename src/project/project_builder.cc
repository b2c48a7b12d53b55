#include "project/project_builder.h"

#include <cstdlib>

#include "dlnest/env.h"
#include "env/path.h"

namespace dlnest {

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

}  // namespace dlnest
