// What becomes of a task whose process ended: the one rule used both when a process exits under
// this server and when a restarted server finds a process of an earlier one gone. Pure.
#pragma once

#include <string>

#include "state/task_record.h"
#include "supervisor/task_runner.h"

namespace dlnest {

struct TaskEnd {
  enum class Kind {
    kRequeue,  ///< back to Pending: the build succeeded, or the process never ran the task
    kEnd,      ///< Finished, Failed or Killed
  };
  Kind kind = Kind::kEnd;
  bool built = false;  ///< kRequeue after a successful build: the plugin is in the package
  TaskState state = TaskState::kFailed;  ///< kEnd: the final state
  std::string error;                     ///< kEnd: why it failed or was killed
  bool restart = false;                  ///< kEnd in Failed with a restart left: queue it again
};

/// Decides the end of `task` (Building or Running) whose process ended as `exit` says;
/// `reason` is the first error line a failed build left, or for a run the error its output
/// ended with (failure_reason; "" when none). Rules:
/// - a delete that was answered (delete_requested) or a termination always ends Killed;
/// - a process that never started (kExitNeverStarted) goes back to the queue;
/// - a build that exited 0 goes back to the queue, built; any other build end fails the task
///   with the compiler's first error line;
/// - a worker that exited 0 Finished; otherwise Failed with "<reason> (<how it exited>)",
///   restarted while restarts < max_restarts.
TaskEnd decide_end(const TaskRecord& task, const ExitInfo& exit, const std::string& reason);

/// The error a task's output ends with: the message of its last "[dlnest] error: ",
/// "dlnest-worker: error: " or "[DLNest Analyze Process] [Error] " line ("" when none).
std::string failure_reason(const std::string& output);

/// failure_reason() of the last 16 KiB of `output_file` ("" when it cannot be read).
std::string failure_reason_in_file(const std::string& output_file);

/// The ExitInfo of a process found gone by a restarted server: the code its exit file held
/// (nullopt when it held none).
ExitInfo exit_found_after_restart(std::optional<int> exit_code);

}  // namespace dlnest
