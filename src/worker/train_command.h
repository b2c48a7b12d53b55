// `dlnest-worker train`: one process training a package, one rank of a distributed run, or the
// launcher of a distributed run's ranks on this node (docs/training.md, "Distributed training").
#pragma once

#include "task/worker_invocation.h"

namespace dlnest {

/// Runs a parsed `train` invocation (its paths absolute); returns the process's exit code.
int run_train_command(WorkerInvocation invocation);

}  // namespace dlnest
