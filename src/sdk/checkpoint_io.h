// The content of a training checkpoint: registered modules, optimizers (with their learning
// rates) and LR schedulers, the runner / dataset / life cycle state, the log, the finished epoch
// and the RNG states. Written through the checkpoint store's FileWriter; read onto any device.
// The layout is documented in docs/training.md.
#pragma once

#include <string>
#include <vector>

#include "dlnest/dataset.h"
#include "dlnest/env.h"
#include "dlnest/runner.h"

namespace dlnest {

/// The parts of a checkpoint that are not objects of the run.
struct TrainProgress {
  int finished_epoch = -1;
  /// Steps of epoch `finished_epoch + 1` already done: a checkpoint taken inside an epoch (an
  /// interrupt or a periodic save) resumes at this step.
  int64_t next_iter = 0;
  Json log = Json::object();
  /// The metrics state (MetricsRecorder::state()): the global step and the epoch's aggregates;
  /// null in a checkpoint written before it existed.
  Json metrics;
  /// Under DDP inside an epoch: every rank's generator states (rng_state()), by rank. Written
  /// when not empty; read_checkpoint() restores the reading rank's entry.
  std::vector<torch::Tensor> rank_rng;
};

/// This process's generator states (the CPU one, then one per GPU) as one byte tensor.
torch::Tensor rng_state();

/// Serialises the run into `out`. A failed write comes back as the file's error (for instance
/// "cannot write <file>: No space left on device"); libtorch is never left with a short write.
Status write_checkpoint(WritableFile& out, const Runner& runner, const Dataset& dataset,
                        const LifeCycle& life_cycle, const TrainProgress& progress);

/// Restores the run from `file` onto `device`, as rank `rank`. Throws c10::Error when the file
/// does not match the run (a missing module or tensor is named in the message).
TrainProgress read_checkpoint(const std::string& file, const torch::Device& device, Runner& runner,
                              Dataset& dataset, LifeCycle& life_cycle, int rank = 0);

}  // namespace dlnest
