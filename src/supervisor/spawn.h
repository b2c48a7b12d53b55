// Starting one task process: fork and exec in a new process group, with nothing inherited but
// stdin (/dev/null), stdout and stderr (the task's output file). Linux only.
#pragma once

#include "dlnest/status.h"
#include "supervisor/supervisor.h"

namespace dlnest {

/// A started process, the leader of its own process group (pgid == pid).
struct StartedProcess {
  int pid = 0;
  int pidfd = -1;  ///< readable once the process has exited; -1 where the kernel has no pidfd
};

/// Forks and execs `spec` (argv[0] is a path; no PATH search). Returns once the program runs,
/// or an error naming the program when it could not be started (the failed child is reaped).
/// Safe to call while other threads run: the child makes only async-signal-safe calls.
Result<StartedProcess> start_process(const SpawnSpec& spec);

/// A pidfd for `pid` (close-on-exec), or -1 where the kernel has none or `pid` is gone.
int open_pidfd(int pid);

}  // namespace dlnest
