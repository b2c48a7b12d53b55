// Supervisor: the real TaskRunner. It starts task processes, each in a session of its own, holds
// them at a gate until released, watches them, ends them on request (SIGINT, then SIGTERM, then
// SIGKILL) and reaps everything, so that no process outlives its task. Torch-free.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dlnest/status.h"
#include "supervisor/task_runner.h"

namespace dlnest {

/// Times of the termination ladder.
struct TerminateOptions {
  /// After SIGINT, wait this long before SIGTERM: a training worker finishes its step and
  /// writes its interrupt checkpoint meanwhile (docs/training.md, "Interrupts").
  double sigint_grace_s = 30;
  double sigterm_grace_s = 5;  ///< after SIGTERM, wait this long before SIGKILL
};

/// Starts, watches and ends task processes. One instance per server. Thread-safe.
///
/// A task is its leader's whole session: the leader calls setsid() (sid == pgid == pid), and
/// every process whose session id is the leader's pid belongs to the task, whatever its process
/// group (ninja puts each compiler in a group of its own).
class Supervisor : public TaskRunner {
 public:
  /// Makes this process a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so that processes
  /// orphaned inside a task are reparented here and reaped.
  explicit Supervisor(TerminateOptions options = {});
  /// Ends every task still known (held ones are abandoned, the others terminated) and waits,
  /// unless detach() was called.
  ~Supervisor() override;
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  /// The callback runs on a supervisor thread once the task's processes are all gone (reaped);
  /// it must not wait for locks that the caller of terminate_all_and_wait() holds.
  void on_exit(ExitCallback callback) override;

  /// Forks the task's leader in a new session; stdin is /dev/null, stdout and stderr go to the
  /// output file (opened here: a FIFO, device or symbolic link is refused, FailedPrecondition
  /// naming the file), and no descriptor of this process but 0-2 is inherited. Returns once the
  /// child waits at its gate, with its pid and start ticks. Errors: task already known
  /// (AlreadyExists), no program (InvalidArgument), output file, fork.
  Result<ProcessHandle> spawn(const std::string& task_id, const SpawnSpec& spec) override;
  /// Opens the gate and waits until the program runs. When it cannot (no such program, no such
  /// folder), returns the error naming the program, and the exit callback reports exit code 127
  /// with the same text as detail. FailedPrecondition when the task is not held; NotFound when
  /// it is not known.
  Status release(const std::string& task_id) override;
  /// Closes the gate of a held task: its child writes kExitNeverStarted to the exit file and
  /// exits with it; the callback reports never_started(). Nothing for a task not held.
  void abandon(const std::string& task_id) override;

  /// Watches a process started by an earlier server (not this process's child): polled through
  /// /proc; when the leader is gone, the rest of its session is killed and the exit code is read
  /// from `exit_file` (nullopt when the file is missing or not a regular file holding a number;
  /// when the process happens to be this process's child, its wait status is used instead).
  /// NotFound when the pid is gone or its start ticks differ; FailedPrecondition when it does
  /// not lead its session.
  Status adopt(const std::string& task_id, const ProcessHandle& process,
               const std::string& exit_file) override;

  /// Begins ending `task_id`'s whole session: SIGINT, SIGTERM after sigint_grace_s, SIGKILL
  /// after sigterm_grace_s more. A held task is abandoned instead (the report says terminated
  /// and never_started()). Returns at once; the exit callback reports the end. NotFound for a
  /// task not known.
  Status terminate(const std::string& task_id) override;
  /// terminate() every task and block until all have ended (their callbacks have run).
  void terminate_all_and_wait() override;
  /// Stop watching without ending anything (a server that stops and leaves tasks running for
  /// the next server to adopt); held tasks are abandoned. The destructor then leaves the
  /// processes alone.
  void detach() override;

  /// Every pid currently in `task_id`'s session (from /proc, zombies included).
  std::vector<int> task_pids(const std::string& task_id) const override;

  /// Whether `task_id` is known (spawned or adopted and not yet ended).
  bool is_running(const std::string& task_id) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Every live pid whose process group is `pgid`, from /proc (zombies included).
std::vector<int> process_group_members(int pgid);

}  // namespace dlnest
