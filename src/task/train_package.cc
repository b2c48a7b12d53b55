#include "task/train_package.h"

#include <random>

#include "env/path.h"

namespace dlnest {

Result<std::string> create_train_package(const TrainSubmission& submission) {
  auto config = load_config(submission.config_path, submission.freq_path);
  if (!config.is_ok()) return config.status();
  const std::string project = config->args["root_file_path"].get<std::string>();
  auto plugin = build_project(project, submission.build);
  if (!plugin.is_ok()) return plugin.status();
  if (!config->args.contains("seed")) {
    // Drawn now and written into args.json, so the package reproduces its run.
    config->args["seed"] = std::random_device{}() & 0x7fffffffu;
  }
  SavePackage package(std::move(*config));
  DLNEST_RETURN_IF_ERROR(package.save_to_new_dir(submission.package));
  Env* env = Env::default_env();
  const std::string cmake_lists = path::join(package.root(), "CMakeLists.txt");
  Status s = Status::ok();
  if (!env->file_exists(cmake_lists)) {
    s = copy_file(env, path::join(project, "CMakeLists.txt"), cmake_lists);
  }
  if (s.is_ok()) s = copy_file(env, *plugin, path::join(package.root(), kPackagePluginFile));
  if (!s.is_ok()) {
    // A package without its plugin cannot run or continue: do not leave it behind.
    env->remove_tree(package.root());
    return s;
  }
  return package.root();
}

}  // namespace dlnest
