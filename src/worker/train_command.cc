#include "worker/train_command.h"

#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>

#include "sdk/plugin_loader.h"
#include "worker/launcher.h"
#include "worker/output.h"
#include "worker/progress.h"

namespace dlnest {

namespace {

constexpr const char* kPluginFile = "dlnest_plugin.so";
constexpr const char* kOutputFile = "_output.txt";

volatile std::sig_atomic_t g_stop_signal = 0;

void on_stop_signal(int sig) {
  g_stop_signal = sig;
}

/// The launcher ends its ranks itself when asked to stop, instead of dying before them.
void catch_stop_signals() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &action, nullptr);
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
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

std::string resume_text(const TrainRequest& request) {
  if (!request.resume) return "";
  return ", continuing from " + (request.checkpoint_id < 0
                                     ? std::string("the latest checkpoint")
                                     : "checkpoint " + std::to_string(request.checkpoint_id));
}

/// Trains in this process, its output appended to `file` in the package.
int train(TrainRequest request, bool foreground, const std::string& file) {
  const DistributedRank& d = request.distributed;
  auto output = enter_package(request.package_dir, file, foreground);
  if (!output.is_ok()) {
    std::cerr << "dlnest-worker: error: " << output.status().message() << "\n";
    return 2;
  }
  dlnest::ProgressLine progress(**output);
  if ((*output)->has_terminal()) {
    request.on_step = [&progress](const dlnest::StepProgress& p) { progress.update(p); };
    request.on_epoch_end = [&progress] { progress.end_epoch(); };
  }
  std::cout << "[dlnest] train " << request.package_dir << " on " << request.device;
  if (d.world_size > 1) std::cout << " as rank " << d.rank << " of " << d.world_size;
  std::cout << resume_text(request) << std::endl;
  Status s = load_plugin(request.package_dir + "/" + kPluginFile);
  if (s.is_ok()) s = run_training(request);
  if (!s.is_ok()) {
    std::cerr << "[dlnest] error: " << s.message() << std::endl;
    return 1;
  }
  std::cout << "[dlnest] finished" << std::endl;
  return 0;
}

/// A rank started by another launcher (torchrun's RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
/// MASTER_PORT). `--device cuda` becomes cuda:LOCAL_RANK.
Status rank_from_env(TrainCommand& c) {
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
  DLNEST_RETURN_IF_ERROR(number("RANK", c.rank));
  DLNEST_RETURN_IF_ERROR(number("WORLD_SIZE", c.world_size));
  int local_rank = 0;
  if (lookup_env("LOCAL_RANK") != nullptr) {
    DLNEST_RETURN_IF_ERROR(number("LOCAL_RANK", local_rank));
  }
  if (c.world_size > 1 && layout.master_port == 0) {
    return Status::invalid_argument("RANK and WORLD_SIZE are set but MASTER_PORT is not");
  }
  c.master_addr = layout.master_addr;
  c.master_port = layout.master_port;
  if (c.request.device == "cuda") c.request.device = "cuda:" + std::to_string(local_rank);
  return Status::ok();
}

/// The ranks of this node: one `dlnest-worker train --rank ...` each.
std::vector<RankSpec> rank_specs(const TrainCommand& c, const NodeLayout& layout,
                                 const std::vector<std::string>& devices) {
  const TrainRequest& r = c.request;
  std::vector<RankSpec> ranks;
  for (int local = 0; local < layout.nproc_per_node; ++local) {
    RankSpec spec;
    spec.rank = layout.global_rank(local);
    spec.output_file = "_output_" + std::to_string(spec.rank) + ".txt";
    const std::string device = devices.empty() ? r.device : devices[static_cast<size_t>(local)];
    spec.argv = {self_path(),     "train",
                 "--package",     r.package_dir,
                 "--device",      device,
                 "--rank",        std::to_string(spec.rank),
                 "--world-size",  std::to_string(layout.world_size()),
                 "--master-addr", layout.master_addr,
                 "--master-port", std::to_string(layout.master_port),
                 "--ddp-timeout", std::to_string(r.distributed.timeout_s)};
    if (r.resume) {
      spec.argv.insert(spec.argv.end(),
                       {"--resume", "--checkpoint", std::to_string(r.checkpoint_id)});
    }
    // The node's first rank also writes to the launcher's output (_output.txt, the terminal).
    if (local == 0) spec.argv.push_back("--foreground");
    spec.env = {{"RANK", std::to_string(spec.rank)},
                {"LOCAL_RANK", std::to_string(local)},
                {"WORLD_SIZE", std::to_string(layout.world_size())},
                {"LOCAL_WORLD_SIZE", std::to_string(layout.nproc_per_node)},
                {"MASTER_ADDR", layout.master_addr},
                {"MASTER_PORT", std::to_string(layout.master_port)}};
    ranks.push_back(std::move(spec));
  }
  return ranks;
}

Result<NodeLayout> plan_node(const TrainCommand& c, const std::vector<std::string>& devices) {
  const int default_nproc = devices.empty() ? 1 : static_cast<int>(devices.size());
  DLNEST_ASSIGN_OR_RETURN(NodeLayout layout,
                          node_layout_from_env(lookup_env, c.nproc, default_nproc));
  if (!devices.empty() && layout.nproc_per_node > static_cast<int>(devices.size())) {
    return Status::invalid_argument(std::to_string(layout.nproc_per_node) +
                                    " ranks on this node but only " +
                                    std::to_string(devices.size()) + " devices: " + c.devices);
  }
  if (layout.master_port == 0) {
    DLNEST_ASSIGN_OR_RETURN(layout.master_port, free_port());
  }
  return layout;
}

/// The launcher: starts this node's ranks and watches them.
int launch(const TrainCommand& c) {
  auto output = enter_package(c.request.package_dir, kOutputFile, c.foreground);
  if (!output.is_ok()) {
    std::cerr << "dlnest-worker: error: " << output.status().message() << "\n";
    return 2;
  }
  const std::vector<std::string> devices = split_list(c.devices);
  Result<NodeLayout> layout = plan_node(c, devices);
  if (!layout.is_ok()) {
    std::cerr << "[dlnest] error: " << layout.status().message() << std::endl;
    return 2;
  }
  const int first = layout->global_rank(0);
  std::cout << "[dlnest] distributed training of " << c.request.package_dir << ": ranks " << first
            << "-" << first + layout->nproc_per_node - 1 << " of " << layout->world_size() << " on "
            << (devices.empty() ? c.request.device : c.devices) << ", rendezvous at "
            << layout->master_addr << ":" << layout->master_port << resume_text(c.request)
            << "; rank r writes _output_<r>.txt" << std::endl;
  catch_stop_signals();
  WatchOptions options;
  options.stop_signal = [] { return static_cast<int>(g_stop_signal); };
  auto processes = make_posix_rank_processes();
  const int code = run_ranks(*processes, rank_specs(c, *layout, devices), options, std::cout);
  if (code == 0) {
    std::cout << "[dlnest] all ranks finished" << std::endl;
  } else {
    std::cerr << "[dlnest] error: the distributed run ended with exit code " << code << std::endl;
  }
  return code;
}

}  // namespace

void add_train_flags(CLI::App* cmd, TrainCommand& c) {
  TrainRequest& r = c.request;
  cmd->add_option("--package", r.package_dir, "the save package")->required();
  cmd->add_flag("--resume", r.resume, "continue from a checkpoint");
  cmd->add_option("--checkpoint", r.checkpoint_id, "checkpoint to continue from (-1: latest)");
  cmd->add_option("--device", r.device, "cpu or cuda:N (a rank of another launcher: cuda)");
  cmd->add_option("--devices", c.devices,
                  "comma-separated devices: one rank each with --ddp, else all the task's");
  cmd->add_flag("--foreground", c.foreground, "also echo the output to the terminal");
  auto* ddp = cmd->add_flag("--ddp", c.ddp, "launch one rank per device of this node");
  cmd->add_option("--nproc", c.nproc,
                  "with --ddp: ranks on this node (default: NPROC_PER_NODE, "
                  "or one per device)")
      ->check(CLI::PositiveNumber)
      ->needs(ddp);
  auto* rank = cmd->add_option("--rank", c.rank, "run as this rank (set by the launcher)")
                   ->check(CLI::NonNegativeNumber)
                   ->excludes(ddp);
  cmd->add_option("--world-size", c.world_size, "ranks in the run")->needs(rank);
  cmd->add_option("--master-addr", c.master_addr, "rank 0's address")->needs(rank);
  cmd->add_option("--master-port", c.master_port, "rank 0's rendezvous port")->needs(rank);
  cmd->add_option("--ddp-timeout", r.distributed.timeout_s,
                  "seconds the rendezvous and each collective may take")
      ->check(CLI::PositiveNumber);
}

int run_train_command(TrainCommand c) {
  if (c.ddp) return launch(c);
  if (c.rank < 0) {
    const Status s = rank_from_env(c);
    if (!s.is_ok()) {
      std::cerr << "dlnest-worker: error: " << s.message() << "\n";
      return 2;
    }
  }
  std::string file = kOutputFile;
  if (c.rank >= 0) {
    file = "_output_" + std::to_string(c.rank) + ".txt";
    if (c.world_size < 1 || c.rank >= c.world_size || (c.world_size > 1 && c.master_port <= 0)) {
      std::cerr << "dlnest-worker: error: rank " << c.rank << " needs a world size above it and, "
                << "with other ranks, --master-addr and --master-port\n";
      return 2;
    }
    DistributedRank& d = c.request.distributed;
    d.rank = c.rank;
    d.world_size = c.world_size;
    if (!c.master_addr.empty()) d.master_addr = c.master_addr;
    d.master_port = c.master_port;
  } else {
    c.request.devices = split_list(c.devices);
  }
  return train(std::move(c.request), c.foreground, file);
}

}  // namespace dlnest
