// `dlnest build-package` (hidden): builds a save package's plugin from exactly the sources the
// package holds. A server runs it as the first stage of a training task, its output going to the
// package's _output.txt (see docs/save_package.md, "Building a package"), its progress to the
// package's progress.json.
#include <unistd.h>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "dlnest/env.h"
#include "env/path.h"
#include "package/progress_file.h"
#include "project/build_progress.h"
#include "project/package_builder.h"
#include "project/project_builder.h"

namespace dlnest::cli {

namespace {

struct BuildPackageFlags {
  std::string package_dir;
  std::string project_dir;
  std::string cmake_dir = default_dlnest_cmake_dir();
  std::string error_file;
  std::string exit_file;
};

/// Leaves `text` in `file` (when given) for a supervisor to read; a failure to write is printed,
/// and the exit code stays the build's.
void leave_file(const std::string& file, const std::string& text) {
  if (file.empty()) return;
  const Status s = write_file_atomically(Env::default_env(), path::absolute(file), text);
  if (!s.is_ok()) fail(s);
}

/// Builds, streaming the output to stdout; on failure the error's first line (the compiler's
/// first error) goes to stderr and to the error file. Returns the exit code.
/// The package's progress.json follows the build (stage "build").
int build(const BuildPackageFlags& flags) {
  ProgressFile file(path::absolute(flags.package_dir));
  BuildProgress progress(&file, static_cast<int>(::getpid()));
  progress.start();
  BuildOptions options;
  options.dlnest_cmake_dir = path::absolute(flags.cmake_dir);
  options.output = [&progress](std::string_view text) {
    std::cout << text << std::flush;
    progress.feed(text);
  };
  auto plugin = build_package(flags.package_dir, flags.project_dir, options);
  progress.finish(plugin.is_ok());
  if (plugin.is_ok()) return 0;
  const std::string headline = build_error_headline(plugin.status());
  leave_file(flags.error_file, headline + "\n");
  return fail(Status::invalid_argument(headline));
}

}  // namespace

void add_build_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("build-package",
                                 "Build a save package's plugin from the sources it holds");
  cmd->group("");  // hidden: the build stage of a task, run by the server
  auto flags = std::make_shared<BuildPackageFlags>();
  cmd->add_option("--package", flags->package_dir, "the save package")->required();
  cmd->add_option("--project", flags->project_dir, "the project whose .dlnest/ caches the build")
      ->required();
  cmd->add_option("--cmake-dir", flags->cmake_dir, "folder with DLNestConfig.cmake")
      ->capture_default_str();
  cmd->add_option("--error-file", flags->error_file,
                  "on failure, write the error's first line to this file");
  cmd->add_option("--exit-file", flags->exit_file,
                  "on exit, write the exit code (decimal) to this file");
  cmd->callback([flags, &exit_code] {
    exit_code = build(*flags);
    leave_file(flags->exit_file, std::to_string(exit_code) + "\n");
  });
}

}  // namespace dlnest::cli
