// `dlnest export`: the weights of a save package's checkpoint as safetensors, for PyTorch and
// other tools (docs/save_package.md, "Exporting weights"). The reading runs in dlnest-export,
// which links libtorch; this binary only finds the checkpoint.
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "dlnest/save_package.h"
#include "env/path.h"

namespace dlnest::cli {

namespace {

/// The arguments of `dlnest export`.
struct ExportFlags {
  std::string record;
  int checkpoint = -1;
  std::string output;
  std::string module;
};

/// The file dlnest-export writes when -o is not given: "<package folder>_<id>.safetensors" in
/// the current folder.
std::string default_output(const SavePackage& package, int id) {
  return path::base_name(package.root()) + "_" + std::to_string(id) + ".safetensors";
}

/// dlnest-export's command line for `flags`; an error names the package or the checkpoint.
Result<std::vector<std::string>> export_argv(const ExportFlags& flags, const std::string& program) {
  DLNEST_ASSIGN_OR_RETURN(const SavePackage package, SavePackage::open(flags.record));
  const int id = flags.checkpoint >= 0 ? flags.checkpoint : package.checkpoints().latest_id();
  if (id < 0) return Status::not_found(package.root() + " has no checkpoint");
  DLNEST_ASSIGN_OR_RETURN(const std::string checkpoint, package.checkpoint_path(id));
  std::vector<std::string> argv = {program, "--checkpoint", checkpoint, "--output",
                                   flags.output.empty() ? default_output(package, id) : flags.output,
                                   "--meta", "dlnest_package=" + package.root(),
                                   "--meta", "dlnest_checkpoint=" + std::to_string(id)};
  if (!flags.module.empty()) argv.insert(argv.end(), {"--module", flags.module});
  return argv;
}

/// dlnest-export beside this binary.
std::string export_program() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  const std::string dir = n > 0 ? path::parent(std::string(buf, static_cast<size_t>(n))) : ".";
  return path::join(dir, "dlnest-export");
}

int run_export(const ExportFlags& flags) {
  const std::string program = export_program();
  auto args = export_argv(flags, program);
  if (!args.is_ok()) return fail(args.status().with_context("dlnest export"));
  std::vector<char*> argv;
  for (std::string& a : *args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::cout.flush();
  ::execv(program.c_str(), argv.data());
  return fail(Status::not_found("cannot start " + program + ": " + std::strerror(errno)));
}

}  // namespace

void add_export_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "export", "Write a checkpoint's module weights as safetensors (PyTorch state_dict names)");
  auto flags = std::make_shared<ExportFlags>();
  cmd->add_option("-r,--record", flags->record, "the save package")->required();
  cmd->add_option("-c,--checkpoint", flags->checkpoint, "checkpoint id (default: the latest)");
  cmd->add_option("-o,--output", flags->output,
                  "the file to write (default: <package folder>_<id>.safetensors here)");
  cmd->add_option("-m,--module", flags->module,
                  "only this registered module, its names without the '<module>.' prefix");
  cmd->callback([flags, &exit_code] { exit_code = run_export(*flags); });
}

}  // namespace dlnest::cli
