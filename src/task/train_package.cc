#include "task/train_package.h"

#include <unistd.h>

#include <random>

#include "env/path.h"

namespace dlnest {

namespace {

constexpr const char* kCMakeLists = "CMakeLists.txt";

}  // namespace

Result<CreatedPackage> create_train_package(const TrainSubmission& submission) {
  auto config = load_config(submission.config_path, submission.freq_path);
  if (!config.is_ok()) return config.status();
  const std::string project = config->args["root_file_path"].get<std::string>();
  Env* env = Env::default_env();
  const std::string cmake_lists = path::join(project, kCMakeLists);
  if (!env->file_exists(cmake_lists)) {
    return Status::not_found("project " + project + " has no " + kCMakeLists);
  }
  if (!config->args.contains("seed")) {
    // Drawn now and written into args.json, so the package reproduces its run.
    config->args["seed"] = std::random_device{}() & 0x7fffffffu;
  }
  SavePackage package(std::move(*config));
  DLNEST_RETURN_IF_ERROR(package.save_to_new_dir(submission.package));
  // CMakeLists.txt need not be among the config's files, but the package's build needs it.
  const std::string copy = path::join(package.root(), kCMakeLists);
  if (!env->file_exists(copy)) {
    const Status s = copy_file(env, cmake_lists, copy);
    if (!s.is_ok()) {
      env->remove_tree(package.root());
      return s;
    }
  }
  return CreatedPackage{package.root(), project};
}

Result<std::string> create_and_build_train_package(const TrainSubmission& submission) {
  DLNEST_ASSIGN_OR_RETURN(CreatedPackage made, create_train_package(submission));
  auto plugin = build_package(made.package_dir, made.project_dir, submission.build);
  if (plugin.is_ok()) return made.package_dir;
  // A package that cannot build is of no use in the foreground: leave nothing behind.
  Env::default_env()->remove_tree(made.package_dir);
  ::rmdir(path::parent(made.package_dir).c_str());  // fails, as it should, unless empty
  return plugin.status();
}

}  // namespace dlnest
