// Starting one task process in two steps: spawn_held() forks a child that sets itself up (its own
// session, stdin /dev/null, stdout and stderr on the task's output file, nothing else inherited)
// and then waits at a gate; release_held() opens the gate and the child runs the program. A child
// whose gate closes unopened (the server gave it up, or died) exits with kExitNeverStarted
// without running anything. Linux only.
#pragma once

#include <string>

#include "dlnest/status.h"
#include "env/unique_fd.h"
#include "supervisor/task_runner.h"

namespace dlnest {

/// A child created by spawn_held(), waiting at its gate. It leads its own session and process
/// group (sid == pgid == pid).
struct HeldProcess {
  int pid = 0;
  UniqueFd pidfd;   ///< readable once the process has exited; invalid where the kernel has none
  UniqueFd gate;    ///< one byte written here lets it run; closed unwritten, it never starts
  UniqueFd report;  ///< the child's exec report: reaches end of file empty once the program runs
  std::string program;  ///< argv[0], for error messages
  std::string cwd;      ///< the folder it enters once released; empty: stays where it is
};

/// Forks a child for `spec` and returns once it waits at its gate (argv[0] is a path; no PATH
/// search). The output file is opened here, before fork, and must be a regular file (see
/// open_regular_file). Errors name the program or the file; nothing is left running after one.
/// Safe to call while other threads run: the child makes only async-signal-safe calls.
Result<HeldProcess> spawn_held(const SpawnSpec& spec);

/// Opens the gate of `process` and waits until the child runs its program; closes the gate and
/// the report. An error names the program and the reason ("cannot start /x/w: No such file or
/// directory"); the child then exits with code 127.
Status release_held(HeldProcess* process);

/// A pidfd for `pid` (close-on-exec), or -1 where the kernel has none or `pid` is gone.
int open_pidfd(int pid);

}  // namespace dlnest
