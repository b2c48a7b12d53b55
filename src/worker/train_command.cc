#include "worker/train_command.h"

#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "dlnest/save_package.h"
#include "env/path.h"
#include "sdk/plugin_loader.h"
#include "sdk/trainer.h"
#include "worker/launcher.h"
#include "worker/output.h"
#include "worker/progress.h"

namespace dlnest {

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

/// Records a stop request. The first SIGINT, SIGTERM or SIGHUP asks to stop; false for a second
/// one, which must end the process at once. kStopRequest (the launcher's) never escalates.
bool record_stop(int sig) {
  if (g_stop_signal != 0 && g_stop_signal != kStopRequest && sig != kStopRequest) return false;
  if (g_stop_signal == 0 || g_stop_signal == kStopRequest) g_stop_signal = sig;
  return true;
}

/// Ends the process by `sig`, as if it had not been caught.
void die_of(int sig) {
  ::signal(sig, SIG_DFL);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  ::pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  ::raise(sig);
}

void on_stop_signal(int sig) {
  if (!record_stop(sig)) die_of(sig);
}

/// Stop requests: the signals are blocked in every thread started from now on and taken by a
/// thread of their own, so that no system call of libtorch, Gloo or the data loader fails with
/// EINTR; the handler takes those that reach an earlier thread. The launcher then ends its ranks
/// itself instead of dying before them; a training process stops after its step.
void catch_stop_signals() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, kStopRequest}) {
    ::sigaction(sig, &action, nullptr);
    sigaddset(&set, sig);
  }
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    for (;;) {
      int sig = 0;
      if (::sigwait(&set, &sig) == 0 && !record_stop(sig)) die_of(sig);
    }
  }).detach();
}

const char* signal_name(int sig) {
  return sig == 0 ? "another rank's request" : ::sigabbrev_np(sig);
}

/// Says where an interrupted run stopped and how it continues.
void report_interruption(const Interruption& i, const std::string& package) {
  std::cout << "[dlnest] interrupted (" << (i.signal == 0 ? "" : "SIG") << signal_name(i.signal)
            << ") at epoch " << i.epoch << ", step " << i.step << " of " << i.steps;
  if (i.checkpoint_id >= 0) {
    std::cout << ": saved interrupt checkpoint " << i.checkpoint_id << " ("
              << path::relative_inside(i.checkpoint_file, package)
              << "); dlnest continue -r " << package << " resumes there";
  }
  std::cout << std::endl;
}

std::string self_path() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "dlnest-worker";
}

const char* lookup_env(const char* name) {
  return std::getenv(name);
}

/// Enters the package and appends stdout and stderr to `file` there.
Result<std::unique_ptr<WorkerOutput>> enter_package(const std::string& dir, const std::string& file,
                                                    bool echo) {
  if (::chdir(dir.c_str()) != 0) return Status::not_found("cannot enter package " + dir);
  return WorkerOutput::redirect(file, echo);
}

std::string resume_text(const WorkerInvocation& w) {
  if (!w.resume) return "";
  return ", continuing from " + (w.checkpoint_id < 0
                                     ? std::string("the latest checkpoint")
                                     : "checkpoint " + std::to_string(w.checkpoint_id));
}

/// The run's epochs when its args say (the default LifeCycle stops after args["epochs"]).
std::optional<int> epochs_of(const std::string& package_dir) {
  auto package = SavePackage::open(package_dir);
  if (!package.is_ok()) return std::nullopt;
  const Json& args = package->args();
  const auto it = args.find("epochs");
  if (it == args.end() || !it->is_number_integer() || it->get<int64_t>() < 0 ||
      it->get<int64_t>() > INT_MAX) {
    return std::nullopt;
  }
  return static_cast<int>(it->get<int64_t>());
}

/// What the training loop is told: the invocation's package, checkpoint, devices and rank.
TrainRequest request_of(const WorkerInvocation& w) {
  TrainRequest r;
  r.package_dir = w.package_dir;
  r.resume = w.resume;
  r.checkpoint_id = static_cast<int>(w.checkpoint_id);
  r.device = w.device();
  if (w.rank < 0 && w.gpus.size() > 1) {
    for (int gpu : w.gpus) r.devices.push_back(format_gpu(gpu));
  }
  DistributedRank& d = r.distributed;
  if (w.ddp_timeout_s) d.timeout_s = *w.ddp_timeout_s;
  if (w.rank >= 0) {
    d.rank = w.rank;
    d.world_size = w.world_size;
    if (!w.master_addr.empty()) d.master_addr = w.master_addr;
    d.master_port = w.master_port;
  }
  return r;
}

/// Trains in this process, its output appended to `file` in the package.
int train(const WorkerInvocation& w, const std::string& file) {
  TrainRequest request = request_of(w);
  const DistributedRank& d = request.distributed;
  auto output = enter_package(request.package_dir, file, w.foreground);
  if (!output.is_ok()) {
    std::cerr << "dlnest-worker: error: " << output.status().message() << "\n";
    return 2;
  }
  // Rank 0 reports the progress: progress.json, and progress lines when no terminal shows the
  // redrawn one.
  const bool lead = d.rank == 0;
  std::unique_ptr<ProgressFile> progress_file;
  if (lead) progress_file = std::make_unique<ProgressFile>(request.package_dir);
  ProgressSinks sinks;
  sinks.file = progress_file.get();
  sinks.terminal = output->get();
  if (lead && !(*output)->has_terminal()) sinks.lines = &std::cout;
  sinks.epochs = epochs_of(request.package_dir);
  sinks.pid = static_cast<int>(::getpid());
  TrainingProgress progress(std::move(sinks));
  request.on_step = [&progress](const StepProgress& p) { progress.step(p); };
  request.on_epoch_end = [&progress] { progress.end_epoch(); };
  request.on_stage = [&progress](const std::string& stage) { progress.stage(stage); };
  request.stop_signal = [] { return static_cast<int>(g_stop_signal); };
  std::cout << "[dlnest] train " << request.package_dir << " on " << request.device;
  if (d.world_size > 1) std::cout << " as rank " << d.rank << " of " << d.world_size;
  std::cout << resume_text(w) << std::endl;
  progress.start();
  Status s = load_plugin(path::join(request.package_dir, SavePackage::kPluginFile));
  Result<TrainOutcome> outcome = s.is_ok() ? run_training(request) : Result<TrainOutcome>(s);
  if (!outcome.is_ok()) {
    progress.finish(progress_stage::kFailed);
    std::cerr << "[dlnest] error: " << outcome.status().message() << std::endl;
    return 1;
  }
  if (outcome->interrupted) {
    progress.finish(progress_stage::kInterrupted);
    report_interruption(*outcome->interrupted, request.package_dir);
    return kInterruptedExitCode;
  }
  progress.finish(progress_stage::kFinished);
  std::cout << "[dlnest] finished" << std::endl;
  return 0;
}

/// A rank started by another launcher (torchrun's RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
/// MASTER_PORT). `--device cuda` becomes cuda:LOCAL_RANK.
Status rank_from_env(WorkerInvocation& w) {
  if (lookup_env("RANK") == nullptr || lookup_env("WORLD_SIZE") == nullptr) return Status::ok();
  NodeLayout layout;  // reused for its checked parsing of the rendezvous variables
  DLNEST_ASSIGN_OR_RETURN(layout, node_layout_from_env(lookup_env, 1, 1));
  auto number = [](const char* name, int& out) -> Status {
    char* end = nullptr;
    const long v = std::strtol(lookup_env(name), &end, 10);
    if (*end != '\0' || v < 0 || v > INT_MAX) {
      return Status::invalid_argument(std::string(name) + "=" + lookup_env(name) +
                                      ": expected a non-negative integer");
    }
    out = static_cast<int>(v);
    return Status::ok();
  };
  DLNEST_RETURN_IF_ERROR(number("RANK", w.rank));
  DLNEST_RETURN_IF_ERROR(number("WORLD_SIZE", w.world_size));
  int local_rank = 0;
  if (lookup_env("LOCAL_RANK") != nullptr) {
    DLNEST_RETURN_IF_ERROR(number("LOCAL_RANK", local_rank));
  }
  if (w.world_size > 1 && layout.master_port == 0) {
    return Status::invalid_argument("RANK and WORLD_SIZE are set but MASTER_PORT is not");
  }
  w.master_addr = layout.master_addr;
  w.master_port = layout.master_port;
  if (w.gpu_from_local_rank) {
    w.gpu_from_local_rank = false;
    w.gpus = {local_rank};
  }
  return Status::ok();
}

Result<NodeLayout> plan_node(const WorkerInvocation& w) {
  const int gpus = static_cast<int>(w.gpus.size());
  DLNEST_ASSIGN_OR_RETURN(NodeLayout layout,
                          node_layout_from_env(lookup_env, w.nproc, std::max(gpus, 1)));
  if (gpus > 0 && layout.nproc_per_node > gpus) {
    return Status::invalid_argument(std::to_string(layout.nproc_per_node) +
                                    " ranks on this node but only " + std::to_string(gpus) +
                                    " devices: " + format_gpu_list(w.gpus));
  }
  if (layout.master_port == 0) {
    DLNEST_ASSIGN_OR_RETURN(layout.master_port, free_port());
  }
  return layout;
}

/// The launcher: starts this node's ranks and watches them.
int launch(const WorkerInvocation& w) {
  auto output = enter_package(w.package_dir, SavePackage::kOutputFile, w.foreground);
  if (!output.is_ok()) {
    std::cerr << "dlnest-worker: error: " << output.status().message() << "\n";
    return 2;
  }
  Result<NodeLayout> layout = plan_node(w);
  if (!layout.is_ok()) {
    std::cerr << "[dlnest] error: " << layout.status().message() << std::endl;
    return 2;
  }
  const int first = layout->global_rank(0);
  const int last = first + layout->nproc_per_node - 1;
  std::cout << "[dlnest] distributed training of " << w.package_dir << ": ranks " << first << "-"
            << last << " of " << layout->world_size() << " on "
            << (w.gpus.empty() ? w.device() : format_gpu_list(w.gpus)) << ", rendezvous at "
            << layout->master_addr << ":" << layout->master_port << resume_text(w)
            << "; their output: " << SavePackage::output_file_for_rank(first) << " to "
            << SavePackage::output_file_for_rank(last) << std::endl;
  WatchOptions options;
  options.stop_signal = [] { return static_cast<int>(g_stop_signal); };
  auto processes = make_posix_rank_processes();
  const int code =
      run_ranks(*processes, node_rank_specs(w, *layout, self_path()), options, std::cout);
  if (code == 0) {
    std::cout << "[dlnest] all ranks finished" << std::endl;
  } else {
    std::cerr << "[dlnest] error: the distributed run ended with exit code " << code << std::endl;
  }
  return code;
}

/// A rank needs a world size above it and, with other ranks, the rendezvous.
Status check_rank(const WorkerInvocation& w) {
  if (w.world_size < 1 || w.rank >= w.world_size || (w.world_size > 1 && w.master_port <= 0)) {
    return Status::invalid_argument("rank " + std::to_string(w.rank) +
                                    " needs a world size above it and, with other ranks, " +
                                    worker_flag::kMasterAddr + " and " + worker_flag::kMasterPort);
  }
  return Status::ok();
}

}  // namespace

int run_train_command(WorkerInvocation w) {
  catch_stop_signals();  // before any thread starts, and before the first line of output
  if (w.ddp) return launch(w);
  Status s = w.rank < 0 ? rank_from_env(w) : Status::ok();
  if (s.is_ok() && w.rank >= 0) s = check_rank(w);
  if (!s.is_ok()) {
    std::cerr << "dlnest-worker: error: " << s.message() << "\n";
    return 2;
  }
  return train(w, w.rank >= 0 ? SavePackage::output_file_for_rank(w.rank)
                              : std::string(SavePackage::kOutputFile));
}

}  // namespace dlnest
