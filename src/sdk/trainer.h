// The training loop of a save package (docs/training.md). Torch-free interface, so the worker's
// own code compiles without libtorch headers.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "dlnest/status.h"

namespace dlnest {

/// Where an epoch stands, reported after every training step.
struct StepProgress {
  int epoch = 0;
  int64_t step = 0;   ///< steps done in this epoch
  int64_t steps = 0;  ///< steps in the epoch
  std::optional<double> loss;  ///< the latest `loss` in the log, if any
};

struct TrainRequest {
  std::string package_dir;
  bool resume = false;     ///< continue from a checkpoint
  int checkpoint_id = -1;  ///< with resume: the checkpoint, -1 the latest
  std::string device = "cpu";  ///< "cpu" or "cuda:N"
  std::function<void(const StepProgress&)> on_step;
  std::function<void()> on_epoch_end;
};

/// Runs the training of the package with the classes its args name (they must be registered,
/// e.g. by a loaded plugin). A failure in user code comes back with the stage it happened in;
/// checkpoints saved before it stay loadable.
Status run_training(const TrainRequest& request);

}  // namespace dlnest
