// `dlnest-worker train`: one process training a package, one rank of a distributed run, or the
// launcher of a distributed run's ranks on this node (docs/training.md, "Distributed training").
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "sdk/trainer.h"

namespace dlnest {

struct TrainCommand {
  TrainRequest request;
  bool foreground = false;  ///< echo the output to the terminal (or the launcher's output)
  bool ddp = false;         ///< launch one rank per device of this node
  int nproc = 0;            ///< with ddp: ranks on this node (0: NPROC_PER_NODE or the devices)
  std::string devices;      ///< comma-separated: ranks' devices (ddp), else the task's devices
  int rank = -1;            ///< >= 0: run as this rank (set by the launcher)
  int world_size = 0;
  std::string master_addr;
  int master_port = 0;
};

/// Adds the train subcommand's flags to `cmd`, writing into `command`.
void add_train_flags(CLI::App* cmd, TrainCommand& command);

/// Runs the parsed command; returns the process's exit code.
int run_train_command(TrainCommand command);

}  // namespace dlnest
