// The content of a training checkpoint: registered modules, optimizers (with their learning
// rates) and LR schedulers, the runner / dataset / life cycle state, the log, the finished epoch
// and the RNG states. Written through the checkpoint store's FileWriter; read onto any device.
// The layout is documented in docs/training.md.
#pragma once

#include <string>

#include "dlnest/dataset.h"
#include "dlnest/env.h"
#include "dlnest/runner.h"

namespace dlnest {

/// The parts of a checkpoint that are not objects of the run.
struct TrainProgress {
  int finished_epoch = -1;
  Json log = Json::object();
};

/// Serialises the run into `out`.
Status write_checkpoint(WritableFile& out, const Runner& runner, const Dataset& dataset,
                        const LifeCycle& life_cycle, const TrainProgress& progress);

/// Restores the run from `file` onto `device`. Throws c10::Error when the file does not match the
/// run (a missing module or tensor is named in the message).
TrainProgress read_checkpoint(const std::string& file, const torch::Device& device, Runner& runner,
                              Dataset& dataset, LifeCycle& life_cycle);

}  // namespace dlnest
