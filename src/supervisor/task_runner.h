// TaskRunner: the seam between the server's dispatcher and the processes of its tasks. The
// Supervisor is the real one; tests use a fake that records what was asked (like ninja's
// CommandRunner), so the dispatcher's rules run in milliseconds without a process.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dlnest/status.h"

namespace dlnest {

/// The exit code of a process that was spawned but never released: its server went away (or
/// gave it up) before recording it, so it ran none of the task's code. A restarted server puts
/// such a task back in the queue instead of counting it as failed.
inline constexpr int kExitNeverStarted = 252;

/// What to start for a task.
struct SpawnSpec {
  std::vector<std::string> argv;           ///< argv[0] is the program's path
  std::string cwd;                         ///< empty: the server's working folder
  std::map<std::string, std::string> env;  ///< added to (or replacing in) the server's env
  /// stdout and stderr are appended to this file, which must be a regular file or not exist yet
  /// (created 0644); empty: /dev/null.
  std::string output_path;
  /// The program writes its exit code here (as decimal text) before exiting, so that an adopted
  /// process, which is not the server's child, still reports how it ended. The runner writes
  /// kExitNeverStarted here itself for a process that was never released. Put the path in argv
  /// too (dlnest-worker: --exit-file).
  std::string exit_file;
};

/// A process as recorded in the state database.
struct ProcessHandle {
  int pid = 0;               ///< the leader of the task's session: sid == pgid == pid
  uint64_t start_ticks = 0;  ///< /proc/<pid>/stat field 22
};

/// How a task's processes ended.
struct ExitInfo {
  std::optional<int> exit_code;  ///< exit status, or 128 + signal; nullopt: unknown
  int signal = 0;                ///< the signal that killed the leader; 0: none
  bool terminated = false;       ///< ended by terminate()
  std::string detail;            ///< e.g. "killed by SIGKILL after 5 s grace", "exit code unknown"

  /// Whether the process ended before running any of the task's code (kExitNeverStarted).
  bool never_started() const { return exit_code && *exit_code == kExitNeverStarted; }
};

/// The exit code a process wrote to its exit file (SpawnSpec::exit_file) at `path`; nullopt when
/// the file is missing, not a regular file (a FIFO put there cannot block the reader) or not a
/// code from 0 to 255. Implemented with the Supervisor, the one writer's counterpart.
std::optional<int> read_exit_file(const std::string& path);

/// Starts, watches and ends the processes of tasks. Thread-safe.
///
/// Starting is two steps so that a crash between them cannot leave a process nobody knows about:
/// spawn() creates the process, held before it runs anything; the caller records the handle
/// durably; release() lets it run. A held process whose runner goes away (a crash, or abandon())
/// exits with kExitNeverStarted without running the program.
class TaskRunner {
 public:
  /// Called once per task, from a runner thread, when the task's processes are all gone.
  using ExitCallback = std::function<void(const std::string& task_id, const ExitInfo& exit)>;

  virtual ~TaskRunner() = default;

  /// Sets the exit callback; call once, before anything is spawned or adopted.
  virtual void on_exit(ExitCallback callback) = 0;

  /// Creates `task_id`'s process, held before it runs the program. Errors: task already known,
  /// output file not a regular file, fork failure.
  virtual Result<ProcessHandle> spawn(const std::string& task_id, const SpawnSpec& spec) = 0;
  /// Lets a spawned process run its program. An error (the program cannot be started) is also
  /// reported through the exit callback.
  virtual Status release(const std::string& task_id) = 0;
  /// Gives up a spawned, unreleased process: it exits with kExitNeverStarted (reported through
  /// the exit callback).
  virtual void abandon(const std::string& task_id) = 0;

  /// Watches a process started by an earlier server. NotFound when the pid is gone or its start
  /// ticks differ.
  virtual Status adopt(const std::string& task_id, const ProcessHandle& process,
                       const std::string& exit_file) = 0;

  /// Begins ending the task's processes (SIGINT, SIGTERM, SIGKILL); returns at once. NotFound for
  /// a task not known.
  virtual Status terminate(const std::string& task_id) = 0;
  /// terminate() every task and block until all have ended (their callbacks have run).
  virtual void terminate_all_and_wait() = 0;
  /// Stop watching without ending anything: the next server adopts the processes. Held
  /// processes are abandoned (no later server could release them).
  virtual void detach() = 0;

  /// Every pid of the task's processes, i.e. of its leader's session (to match GPU processes to
  /// tasks).
  virtual std::vector<int> task_pids(const std::string& task_id) const = 0;
};

}  // namespace dlnest
