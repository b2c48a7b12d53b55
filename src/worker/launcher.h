// The local launcher of a distributed (DDP) run: it starts one `dlnest-worker train` process per
// rank of this node, all in the launcher's own process group, and watches them. When one rank
// fails, the others are ended (SIGTERM, then SIGKILL after a grace period) and the launcher exits
// with the failing rank's code, so a run never hangs on a collective its peer will not join.
// Torch-free.
#pragma once

#include <csignal>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "dlnest/status.h"
#include "task/worker_invocation.h"

namespace dlnest {

/// The exit code of a training process that stopped on request (SIGINT, SIGTERM, SIGHUP or
/// kStopRequest) after writing its interrupt checkpoint (docs/training.md).
inline constexpr int kInterruptedExitCode = 130;
/// What the launcher sends its ranks to ask them to stop after the same step. Unlike a second
/// SIGINT, a repeated request never ends a rank at once.
inline constexpr int kStopRequest = SIGUSR1;

/// How the ranks of a run spread over machines (torchrun's NNODES, NODE_RANK, NPROC_PER_NODE,
/// MASTER_ADDR, MASTER_PORT).
struct NodeLayout {
  int nnodes = 1;
  int node_rank = 0;
  int nproc_per_node = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;  ///< 0: pick a free port (one node only)

  int world_size() const { return nnodes * nproc_per_node; }
  int global_rank(int local_rank) const { return node_rank * nproc_per_node + local_rank; }
};

/// Reads one environment variable (nullptr when unset); getenv in production.
using EnvLookup = std::function<const char*(const char*)>;

/// The layout from the environment. `nproc` (> 0) overrides NPROC_PER_NODE; without either,
/// `default_nproc` ranks. Several nodes need MASTER_ADDR and MASTER_PORT. Errors name the
/// variable and its value.
Result<NodeLayout> node_layout_from_env(const EnvLookup& env, int nproc, int default_nproc);

/// How one rank process ended.
struct ChildExit {
  int pid = 0;
  int code = 0;    ///< exit status, or 128 + signal when killed by one
  int signal = 0;  ///< the signal that killed it; 0: none
};

/// Starting, waiting for and signalling rank processes. The real one forks and execs; tests
/// use a fake.
class RankProcesses {
 public:
  virtual ~RankProcesses() = default;
  /// Starts `argv` (argv[0] is a path) with `env` set on top of this process's environment. The
  /// child stays in this process group and is killed when its parent dies.
  virtual Result<int> start(const std::vector<std::string>& argv,
                            const std::map<std::string, std::string>& env) = 0;
  /// The next child to end, waiting up to `timeout_s`; nullopt when none ended by then.
  virtual std::optional<ChildExit> wait_any(double timeout_s) = 0;
  virtual void signal(int pid, int sig) = 0;
};

/// Children of this process through fork and exec.
std::unique_ptr<RankProcesses> make_posix_rank_processes();

/// One rank to start.
struct RankSpec {
  int rank = 0;
  std::string output_file;  ///< where its output goes, named when it fails
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
};

/// Local rank `local` of the `--ddp` invocation `launcher` on `layout`: the launcher's package,
/// checkpoint and collective timeout, its `local`-th GPU (the CPU when it has none) and the
/// rendezvous. The node's first rank also writes to the launcher's output (_output.txt and, in
/// the foreground, the terminal); no rank writes the launcher's exit file.
WorkerInvocation rank_invocation(const WorkerInvocation& launcher, const NodeLayout& layout,
                                 int local);

/// This node's ranks: `worker_path` with each rank_invocation(), and torchrun's environment
/// (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT).
std::vector<RankSpec> node_rank_specs(const WorkerInvocation& launcher, const NodeLayout& layout,
                                      const std::string& worker_path);

struct WatchOptions {
  /// After SIGTERM to the surviving ranks, how long to wait before SIGKILL.
  double term_grace_s = 5;
  /// The signal that asked the launcher itself to stop, or 0; polled while waiting.
  std::function<int()> stop_signal = [] { return 0; };
  /// When the first rank seen failing only lost a peer (its last error says the connection was
  /// closed or reset by the peer), how long to wait for the rank that failed first, so that the
  /// report names the cause rather than its echo.
  double peer_settle_s = 1;
};

/// Starts every rank and waits for all of them. When the launcher is asked to stop, it sends
/// every rank kStopRequest and waits for them to stop. Returns 0 when every rank succeeded;
/// otherwise the code of the first rank that failed (a rank that only lost its peer is passed
/// over for the peer, see WatchOptions::peer_settle_s) (128 + signal when killed), or
/// kInterruptedExitCode when the ranks stopped on request, once every rank has ended. Messages
/// go to `log`.
int run_ranks(RankProcesses& processes, const std::vector<RankSpec>& ranks,
              const WatchOptions& options, std::ostream& log);

/// A TCP port of 127.0.0.1 that was free at the time of the call.
Result<int> free_port();

}  // namespace dlnest
