// Supervisor: starts task processes, each in its own process group, watches them, ends them on
// request (SIGINT, then SIGTERM, then SIGKILL) and reaps everything, so that no process outlives
// its task. Torch-free.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dlnest/status.h"

namespace dlnest {

/// What to start for a task.
struct SpawnSpec {
  std::vector<std::string> argv;           ///< argv[0] is the program's path
  std::string cwd;                         ///< empty: the server's working folder
  std::map<std::string, std::string> env;  ///< added to (or replacing in) the server's env
  /// stdout and stderr are appended to this file (created 0644); empty: /dev/null.
  std::string output_path;
  /// The program writes its exit code here (as decimal text) before exiting, so that an adopted
  /// process, which is not the server's child, still reports how it ended. The supervisor passes
  /// nothing to the program itself: put the path in argv (dlnest-worker: --exit-file).
  std::string exit_file;
};

/// A process as recorded in the state database.
struct ProcessHandle {
  int pid = 0;               ///< the process group leader; pgid == pid
  uint64_t start_ticks = 0;  ///< /proc/<pid>/stat field 22
};

/// How a task's processes ended.
struct ExitInfo {
  std::optional<int> exit_code;  ///< exit status, or 128 + signal; nullopt: unknown
  int signal = 0;                ///< the signal that killed the leader; 0: none
  bool terminated = false;       ///< ended by terminate()
  std::string detail;            ///< e.g. "killed by SIGKILL after 5 s grace", "exit code unknown"
};

/// Times of the termination ladder.
struct TerminateOptions {
  double sigint_grace_s = 5;   ///< after SIGINT, wait this long before SIGTERM
  double sigterm_grace_s = 5;  ///< after SIGTERM, wait this long before SIGKILL
};

/// Starts, watches and ends task processes. One instance per server. Thread-safe.
class Supervisor {
 public:
  /// Called once per task from a supervisor thread when the leader and every other process of
  /// the group are gone (reaped). Must not call back into the supervisor synchronously with locks
  /// the caller holds elsewhere.
  using ExitCallback = std::function<void(const std::string& task_id, const ExitInfo& exit)>;

  /// Makes this process a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so that processes
  /// orphaned inside a task's group are reparented here and reaped.
  explicit Supervisor(ExitCallback on_exit, TerminateOptions options = {});
  /// Ends every task still running (terminate + wait) unless detach() was called.
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  /// Starts `spec` for `task_id` in a new process group; stdin is /dev/null and no descriptor of
  /// this process except 0-2 is inherited. Errors: task already supervised, program cannot be
  /// started (errno text and the program's path; detected before returning, via a CLOEXEC pipe).
  Result<ProcessHandle> spawn(const std::string& task_id, const SpawnSpec& spec);

  /// Watches a process started by an earlier server (not this process's child): polled through
  /// /proc; when the leader is gone, the rest of its group is killed and the exit code is read
  /// from `exit_file` (nullopt when the file is missing or unreadable; when the process happens to
  /// be this process's child, its wait status is used instead). NotFound when the pid is gone or
  /// its start ticks differ; FailedPrecondition when it does not lead its process group.
  Status adopt(const std::string& task_id, const ProcessHandle& process,
               const std::string& exit_file);

  /// Begins ending `task_id`'s whole process group: SIGINT, SIGTERM after sigint_grace_s, SIGKILL
  /// after sigterm_grace_s more. Returns at once; the exit callback reports the end. NotFound for
  /// a task not supervised.
  Status terminate(const std::string& task_id);

  /// terminate() every task and block until all have ended (their callbacks have run).
  void terminate_all_and_wait();

  /// Stop watching without ending anything (a server that stops and leaves tasks running for
  /// the next server to adopt). The destructor then leaves the processes alone.
  void detach();

  /// Whether `task_id` is supervised (started or adopted and not yet ended).
  bool is_running(const std::string& task_id) const;

  /// Every pid currently in `task_id`'s process group (from /proc), for tests and `del`.
  std::vector<int> group_members(const std::string& task_id) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Every live pid whose process group is `pgid`, from /proc (zombies included).
std::vector<int> process_group_members(int pgid);

}  // namespace dlnest
