// WorkerInvocation: everything one `dlnest-worker` process is told on its command line. The
// server, the foreground CLI and the DDP launcher write it with to_argv(); the worker reads it
// with parse(). Both go through one table of flags, so the spellings cannot drift apart
// (docs/training.md, docs/analyzer.md). Torch-free.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dlnest/status.h"

namespace dlnest {

/// The worker's flags, spelled once for to_argv(), parse() and usage().
namespace worker_flag {
inline constexpr const char* kPackage = "--package";
inline constexpr const char* kExitFile = "--exit-file";
inline constexpr const char* kCheckpoint = "--checkpoint";
inline constexpr const char* kDevice = "--device";
inline constexpr const char* kDevices = "--devices";
inline constexpr const char* kForeground = "--foreground";
inline constexpr const char* kResume = "--resume";
inline constexpr const char* kDdp = "--ddp";
inline constexpr const char* kNproc = "--nproc";
inline constexpr const char* kRank = "--rank";
inline constexpr const char* kWorldSize = "--world-size";
inline constexpr const char* kMasterAddr = "--master-addr";
inline constexpr const char* kMasterPort = "--master-port";
inline constexpr const char* kDdpTimeout = "--ddp-timeout";
inline constexpr const char* kScript = "--script";
inline constexpr const char* kScripts = "--scripts";
inline constexpr const char* kSocket = "--socket";
inline constexpr const char* kToolchain = "--toolchain";
}  // namespace worker_flag

/// The device text of one GPU: "cuda:3".
std::string format_gpu(int gpu);
/// A device list as the worker takes it: "cuda:0,cuda:1" ("" for none).
std::string format_gpu_list(const std::vector<int>& gpus);
/// The GPU numbers of a device list "cuda:0,cuda:1". An error for an empty list, an item that is
/// not cuda:N, or a GPU named twice; the message quotes the item at fault.
Result<std::vector<int>> parse_gpu_list(const std::string& text);

struct WorkerInvocation {
  enum class Mode { kTrain, kAnalyze };
  Mode mode = Mode::kTrain;

  // Both modes.
  std::string package_dir;  ///< the save package
  std::string exit_file;    ///< on exit, the exit code goes here; empty: nowhere
  /// train with resume: the checkpoint to continue from (-1: the latest);
  /// analyze: the checkpoint to load (-1: the latest, -2: none).
  int64_t checkpoint_id = -1;
  /// The GPUs the task got; empty: the CPU. One: `--device cuda:N`. Several: every GPU of a
  /// multi-GPU task, or one GPU per rank of a DDP task (`--devices`), the first one its device.
  std::vector<int> gpus;
  /// `--device cuda`: a rank started by another launcher, on cuda:LOCAL_RANK (gpus empty).
  bool gpu_from_local_rank = false;
  bool foreground = false;  ///< also echo the output to the terminal

  // Train.
  bool resume = false;      ///< continue from checkpoint_id
  bool ddp = false;         ///< launch one rank per GPU (or nproc on the CPU) on this node
  int nproc = 0;            ///< with ddp on the CPU: ranks on this node; 0: NPROC_PER_NODE or one
  int rank = -1;            ///< >= 0: run as this rank of a distributed run (set by the launcher)
  int world_size = 0;       ///< with rank: the ranks in the run
  std::string master_addr;  ///< with rank: rank 0's address
  int master_port = 0;      ///< with rank: rank 0's rendezvous port
  /// Seconds the rendezvous and each collective may take; unset: the worker's default.
  std::optional<double> ddp_timeout_s;

  // Analyze.
  std::string scripts_dir;    ///< where runExp NAME finds NAME.cpp; empty: the package's
  std::string socket_path;    ///< serve: commands arrive on this Unix socket
  std::string script;         ///< one shot: run this .cpp file, then exit
  std::string toolchain_dir;  ///< script_flags.txt and the precompiled header; empty: default

  /// The device of the (first) process: "cpu", "cuda:N", or "cuda" (gpu_from_local_rank).
  std::string device() const;

  /// The command line: `worker_path`, the mode, then the flags.
  std::vector<std::string> to_argv(const std::string& worker_path) const;

  /// Reads a command line without argv[0] (the mode first). Errors name the flag at fault and
  /// what was expected ("--nproc two: expected a positive integer").
  static Result<WorkerInvocation> parse(const std::vector<std::string>& args);

  /// The help text: each mode's flags, from the same table parse() reads.
  static std::string usage();

  bool operator==(const WorkerInvocation& other) const;
  bool operator!=(const WorkerInvocation& other) const { return !(*this == other); }
};

}  // namespace dlnest
