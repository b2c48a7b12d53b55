// `dlnest run`, `dlnest continue` and `dlnest new`: projects and foreground training.
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "dlnest/save_package.h"
#include "env/path.h"
#include "package/args_history.h"
#include "project/project_plugins.h"
#include "server/memory_estimate.h"
#include "task/train_package.h"
#include "task/worker_invocation.h"

namespace dlnest::cli {

namespace {

std::string own_dir() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? path::parent(std::string(buf, static_cast<size_t>(n))) : ".";
}

/// Where a task runs, from --cpu / --gpu.
struct DeviceFlags {
  bool cpu = false;
  std::vector<int> gpus;
};

void add_device_flags(CLI::App* cmd, DeviceFlags& flags) {
  auto* cpu = cmd->add_flag("--cpu", flags.cpu, "train on the CPU (the default)");
  cmd->add_option("--gpu", flags.gpus, "train on GPU number ID (--ddp: IDs, e.g. 0,1)")
      ->delimiter(',')
      ->excludes(cpu);
}

}  // namespace

CLI::Validator memory_validator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        Result<MemoryRequest> parsed = parse_memory_request(value);
        return parsed.is_ok()
                   ? ""
                   : "-m takes a number of MB, -1 (the default) or auto; got '" + value + "'";
      },
      "MB|auto", "memory");
}

namespace {

/// How a task runs: --ddp and --nproc anywhere; the rest only for tasks a server runs.
struct ServerFlags {
  std::string memory;  ///< -m: MB, -1 or auto; empty: not given
  bool multi_gpu = false;
  bool ddp = false;
  int nproc = 0;
  int max_restarts = 0;
  bool memory_given() const { return !memory.empty() && memory != "-1"; }
  bool server_only() const { return memory_given() || multi_gpu || max_restarts != 0; }
};

void add_server_flags(CLI::App* cmd, ServerFlags& flags) {
  cmd->add_option("-m,--memory", flags.memory,
                  "GPU memory the task needs in MB, or auto: the last measured peak of the same "
                  "project and config x1.2 (default: 90% of a card)")
      ->check(memory_validator());
  cmd->add_flag("--mc,--multi-gpu", flags.multi_gpu,
                "spread over several GPUs when one is not enough");
  auto* ddp = cmd->add_flag("--ddp", flags.ddp,
                            "distributed data parallel: a process per GPU, or --nproc on the CPU");
  cmd->add_option("--nproc", flags.nproc, "with --ddp on the CPU: the number of processes")
      ->check(CLI::PositiveNumber)
      ->needs(ddp);
  cmd->add_option("--max-restarts", flags.max_restarts,
                  "restart a failed task up to N times from its latest checkpoint")
      ->check(CLI::NonNegativeNumber);
}

/// The worker that trains `package` in this terminal.
WorkerInvocation foreground_training(const std::string& package, const DeviceFlags& device,
                                     const ServerFlags& flags) {
  WorkerInvocation w;
  w.package_dir = package;
  w.foreground = true;
  w.gpus = device.gpus;
  w.ddp = flags.ddp;
  if (flags.ddp) w.nproc = flags.nproc;
  return w;
}

/// --gpu is for --foreground; -m, --mc and --max-restarts are for the server.
Status check_mode(bool foreground, const DeviceFlags& device, const ServerFlags& server,
                  const char* command) {
  if (foreground && server.server_only()) {
    return Status::invalid_argument(std::string("dlnest ") + command +
                                    " --foreground: -m, --mc and --max-restarts apply only to "
                                    "tasks a server runs");
  }
  if (foreground && server.nproc > 0 && !device.gpus.empty()) {
    return Status::invalid_argument(std::string("dlnest ") + command +
                                    " --foreground: --nproc is for the CPU; on GPUs --ddp runs "
                                    "one process per --gpu ID");
  }
  if (!foreground && !device.gpus.empty()) {
    return Status::invalid_argument(std::string("dlnest ") + command +
                                    ": --gpu needs --foreground; a server picks the GPUs itself "
                                    "(see -m and --mc)");
  }
  return Status::ok();
}

void add_server_params(ApiParams& params, const DeviceFlags& device, const ServerFlags& flags) {
  if (flags.memory_given()) params.emplace_back("memory_consumption", flags.memory);
  if (device.cpu) params.emplace_back("CPU", "True");
  if (flags.ddp) params.emplace_back("DDP", "True");
  if (flags.nproc > 0) params.emplace_back("nproc", std::to_string(flags.nproc));
  if (flags.multi_gpu) params.emplace_back("multi_GPU", "True");
  if (flags.max_restarts > 0) {
    params.emplace_back("max_restarts", std::to_string(flags.max_restarts));
  }
}

int submit_run(const ClientOptions& client, const TrainSubmission& submission,
               const DeviceFlags& device, const ServerFlags& flags) {
  ApiParams params = {{"config_path", path::absolute(submission.config_path)}};
  if (!submission.freq_path.empty()) {
    params.emplace_back("freq_path", path::absolute(submission.freq_path));
  }
  if (!submission.package.description.empty()) {
    params.emplace_back("description", submission.package.description);
  }
  if (submission.package.no_save) params.emplace_back("no_save", "True");
  if (submission.package.use_description) params.emplace_back("use_description", "True");
  add_server_params(params, device, flags);
  return submit_task(client, "/run_train", params);
}

void add_run(CLI::App& app, int& exit_code, const ClientOptions& client) {
  auto* cmd = app.add_subcommand(
      "run", "Queue a training task on the server, or build and train it here with --foreground");
  auto submission = std::make_shared<TrainSubmission>();
  auto device = std::make_shared<DeviceFlags>();
  auto server = std::make_shared<ServerFlags>();
  auto foreground = std::make_shared<bool>(false);
  cmd->add_option("-c,--config", submission->config_path, "root_config.json")->required();
  cmd->add_option("-f,--freq", submission->freq_path, "freq config merged last");
  cmd->add_option("-d,--description", submission->package.description, "description");
  cmd->add_flag("--ns,--no-save", submission->package.no_save, "use the package folder NOSAVE");
  cmd->add_flag("--sd,--save-by-description", submission->package.use_description,
                "name the package folder by the description");
  add_device_flags(cmd, *device);
  add_server_flags(cmd, *server);
  cmd->add_flag("--foreground", *foreground, "train in this terminal instead of on the server");
  cmd->callback([=, &exit_code, &client] {
    Status s = check_mode(*foreground, *device, *server, "run");
    if (!s.is_ok()) {
      exit_code = usage_error(s.message());
      return;
    }
    if (!*foreground) {
      exit_code = submit_run(client, *submission, *device, *server);
      return;
    }
    submission->build.dlnest_cmake_dir = default_dlnest_cmake_dir();
    submission->build.output = [](std::string_view text) { std::cout << text << std::flush; };
    std::cout << "[dlnest] building the project of " << submission->config_path << std::endl;
    auto package = create_and_build_train_package(*submission);
    if (!package.is_ok()) {
      // The build's output is on the terminal already; its first error line sums it up.
      exit_code = fail(Status::invalid_argument(build_error_headline(package.status())));
      return;
    }
    std::cout << "[dlnest] save package " << *package << std::endl;
    exit_code = exec_worker(foreground_training(*package, *device, *server));
  });
}

/// What `dlnest continue` was told besides the devices.
struct ContinueFlags {
  std::string record;
  int checkpoint = -1;
  std::string description;
  ArgsChanges changes;
  bool foreground = false;
};

/// The /continue_train parameters of `flags` for package `package`.
ApiParams continue_params(const std::string& package, const ContinueFlags& flags,
                          const DeviceFlags& device, const ServerFlags& server) {
  ApiParams params = {{"record_path", package},
                      {"checkpoint_ID", std::to_string(flags.checkpoint)}};
  if (!flags.description.empty()) params.emplace_back("description", flags.description);
  if (!flags.changes.freq_path.empty()) {
    params.emplace_back("freq_path", path::absolute(flags.changes.freq_path));
  }
  for (const std::string& setting : flags.changes.settings) params.emplace_back("set", setting);
  add_server_params(params, device, server);
  return params;
}

/// Continues `package` in this terminal, its args changed first as `flags` asks.
int continue_here(const std::string& package_dir, const ContinueFlags& flags,
                  const DeviceFlags& device, const ServerFlags& server) {
  auto package = SavePackage::open(package_dir);
  Status s = package.status();
  if (s.is_ok()) s = package->checkpoint_path(flags.checkpoint).status();
  if (s.is_ok() && !flags.changes.empty()) {
    ArgsChanges changes = flags.changes;
    if (!changes.freq_path.empty()) changes.freq_path = path::absolute(changes.freq_path);
    s = change_package_args(package->root(), changes, flags.checkpoint).status();
  }
  if (!s.is_ok()) return fail(s);
  WorkerInvocation w = foreground_training(package->root(), device, server);
  w.resume = true;
  w.checkpoint_id = flags.checkpoint;
  return exec_worker(w);
}

void add_continue(CLI::App& app, int& exit_code, const ClientOptions& client) {
  auto* cmd = app.add_subcommand(
      "continue", "Continue training a save package from a checkpoint, its args changed or not");
  auto flags = std::make_shared<ContinueFlags>();
  auto device = std::make_shared<DeviceFlags>();
  auto server = std::make_shared<ServerFlags>();
  cmd->add_option("-r,--record", flags->record, "the save package, or the id of its task")
      ->required();
  cmd->add_option("-c,--checkpoint", flags->checkpoint, "checkpoint id (default: the latest)");
  cmd->add_option("-d,--description", flags->description, "description of the continued run");
  cmd->add_option("-f,--freq", flags->changes.freq_path,
                  "a JSON file merged into the package's args first (e.g. more epochs)");
  cmd->add_option("--set", flags->changes.settings,
                  "KEY=VALUE changed in the package's args (VALUE as JSON, else a string; KEY "
                  "may be dotted: optimizer.lr=1e-4); may be repeated");
  add_device_flags(cmd, *device);
  add_server_flags(cmd, *server);
  cmd->add_flag("--foreground", flags->foreground,
                "train in this terminal instead of on the server");
  cmd->callback([=, &exit_code, &client] {
    Status s = check_mode(flags->foreground, *device, *server, "continue");
    if (s.is_ok() && flags->foreground && !flags->description.empty()) {
      s = Status::invalid_argument(
          "dlnest continue --foreground: -d applies only to tasks a server runs");
    }
    if (!s.is_ok()) {
      exit_code = usage_error(s.message());
      return;
    }
    Result<std::string> package = package_dir_of(client, flags->record);
    if (!package.is_ok()) {
      exit_code = fail(package.status());
    } else if (flags->foreground) {
      exit_code = continue_here(*package, *flags, *device, *server);
    } else {
      exit_code = submit_task(client, "/continue_train",
                              continue_params(*package, *flags, *device, *server));
    }
  });
}

void add_new(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("new", "Create a new project from a template");
  auto dir = std::make_shared<std::string>();
  auto mnist = std::make_shared<bool>(false);
  cmd->add_option("-d,--directory", *dir, "folder of the new project")->required();
  cmd->add_flag("--mnist,--MNIST", *mnist, "a complete Fashion-MNIST project");
  auto plugins = std::make_shared<std::vector<std::string>>();
  cmd->add_option("-p,--plugins", *plugins, "training plugins to list in its config");
  cmd->callback([=, &exit_code] {
    const std::string target = path::absolute(*dir);
    const Status s = create_project(target, *mnist);
    if (!s.is_ok()) {
      exit_code = fail(s.with_context("dlnest new"));
      return;
    }
    if (!plugins->empty()) {
      const Status added = add_plugins(target, *plugins, /*full=*/false).status();
      if (!added.is_ok()) {
        exit_code = fail(added.with_context("dlnest new"));
        return;
      }
    }
    BuildOptions editors;
    editors.dlnest_cmake_dir = default_dlnest_cmake_dir();
    const Status linked = write_compile_commands(target, editors);
    if (!linked.is_ok()) {
      std::cerr << "dlnest new: no compile_commands.json for editors: "
                << build_error_headline(linked) << "\n";
    }
    std::cout << "created " << (*mnist ? "MNIST " : "") << "project " << target << "\n"
              << "train it: dlnest run -c " << path::join(target, "root_config.json")
              << " --foreground\n";
  });
}

}  // namespace

int exec_worker(const WorkerInvocation& invocation) {
  const std::string worker = path::join(own_dir(), "dlnest-worker");
  const std::vector<std::string> args = invocation.to_argv(worker);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::cout.flush();
  ::execv(worker.c_str(), argv.data());
  return fail(Status::not_found("cannot start " + worker + ": " + std::strerror(errno)));
}

void add_train_commands(CLI::App& app, int& exit_code, const ClientOptions& client) {
  add_new(app, exit_code);
  add_run(app, exit_code, client);
  add_continue(app, exit_code, client);
}

}  // namespace dlnest::cli
