// The training loop of a save package (docs/training.md). Torch-free interface, so the worker's
// own code compiles without libtorch headers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dlnest/status.h"

namespace dlnest {

/// Where an epoch stands, reported after every training step.
struct StepProgress {
  int epoch = 0;
  int64_t step = 0;   ///< steps done in this epoch
  int64_t steps = 0;  ///< steps in the epoch
  std::optional<double> loss;  ///< the latest `loss` in the log (or logged), if any
  /// The latest value of every scalar logged with Runner::log (DDP-reduced ones reduced).
  std::map<std::string, double> scalars;
};

/// This process's place in a distributed (DDP) run; world_size 1 is a single process.
struct DistributedRank {
  int rank = 0;
  int world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;
  /// How long the rendezvous and each collective may take before the run fails.
  double timeout_s = 600;
};

struct TrainRequest {
  std::string package_dir;
  bool resume = false;     ///< continue from a checkpoint
  int checkpoint_id = -1;  ///< with resume: the checkpoint, -1 the latest
  std::string device = "cpu";  ///< "cpu" or "cuda:N"
  /// Every device of the task (-mc without DDP), `device` first; empty: just `device`.
  std::vector<std::string> devices;
  DistributedRank distributed;
  std::function<void(const StepProgress&)> on_step;
  std::function<void()> on_epoch_end;
  /// The epoch's validation ("validation") or checkpoint ("save") begins; training steps
  /// resume with the next on_step.
  std::function<void(const std::string&)> on_stage;
  /// Polled after every training step and at every epoch's end: a signal number asks the run to
  /// stop there and write an interrupt checkpoint; 0 lets it go on. Under DDP the ranks agree,
  /// so that all of them stop after the same step.
  std::function<int()> stop_signal;
};

/// Where an interrupted run stopped, and the checkpoint it left there.
struct Interruption {
  int signal = 0;          ///< the signal that asked this process; 0: another rank was asked
  int epoch = 0;           ///< the epoch it stopped in
  int64_t step = 0;        ///< steps of that epoch done
  int64_t steps = 0;       ///< steps in the epoch
  int checkpoint_id = -1;  ///< the interrupt checkpoint (rank 0 writes it; -1 on the others)
  std::string checkpoint_file;
};

/// How a run that raised no error ended.
struct TrainOutcome {
  std::optional<Interruption> interrupted;  ///< empty: the LifeCycle ended the run
};

/// Runs the training of the package with the classes its args name (they must be registered,
/// e.g. by a loaded plugin; unknown names are refused before anything runs, listing the
/// registered ones). A failure in user code comes back with the stage it happened in;
/// checkpoints saved before it stay loadable.
Result<TrainOutcome> run_training(const TrainRequest& request);

}  // namespace dlnest
