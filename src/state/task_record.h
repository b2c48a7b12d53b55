// TaskRecord: one task as the server's state database keeps it, and its JSON form.
//
// The JSON form uses the field names of the original DLNest's /get_task_info ("ID", "args",
// "devices", "memory_consumption", "multi_GPU", "DDP", "type", "status", "load_ckpt",
// "checkpoint_ID", "description", and "record_path"/"script_path" for analysis tasks) and adds the
// fields the original did not keep. docs/state.md lists them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dlnest/config.h"  // Json
#include "dlnest/status.h"

namespace dlnest {

/// What a task runs: a training ("T_..." ids) or an analysis script ("A_..." ids).
enum class TaskType { kTrain, kAnalyze };

/// Where a task is in its life. A new training is Pending, then Building (its plugin is built from
/// the package's sources), Pending again until devices are free, then Running. Finished and Killed
/// are terminal; Failed may go back to Pending when the task is restarted.
enum class TaskState { kPending, kBuilding, kRunning, kFinished, kFailed, kKilled };

/// Whether a task in `state` has ended: Finished, Failed or Killed.
inline bool is_ended(TaskState state) {
  return state == TaskState::kFinished || state == TaskState::kFailed ||
         state == TaskState::kKilled;
}

/// "Train" / "Analyze", as the original names them.
const char* task_type_name(TaskType type);
/// "Pending", "Building", "Running", "Finished", "Failed" or "Killed".
const char* task_state_name(TaskState state);
/// The type named `name`, or InvalidArgument naming it.
Result<TaskType> parse_task_type(const std::string& name);
/// The state named `name`, or InvalidArgument naming it.
Result<TaskState> parse_task_state(const std::string& name);

/// Whether a task may move from `from` to `to`: Pending -> Building/Running/Failed/Killed,
/// Building -> Pending (built, or its build never started)/Failed/Killed,
/// Running -> Finished/Failed/Killed/Pending (its worker never started), Failed -> Pending (a
/// restart). Nothing else.
bool is_legal_transition(TaskState from, TaskState to);

/// An id in the original's look, "T_7235.2695_7": the prefix of `type`, the wall-clock seconds
/// `now` modulo 10000 with four decimals, and the sequence number `n` that makes it unique.
std::string format_task_id(TaskType type, double now, int64_t n);

/// Memory estimate that asks the scheduler for its default (the original's -1).
inline constexpr int64_t kDefaultMemoryMb = -1;
/// Checkpoint id that means "the latest one" (the original's -1).
inline constexpr int64_t kLatestCheckpoint = -1;

/// One task with everything the server must remember about it across a restart.
struct TaskRecord {
  std::string id;  ///< "T_..." or "A_..."; unique in a state database
  TaskType type = TaskType::kTrain;
  TaskState state = TaskState::kPending;
  Json args = Json::object();                 ///< the merged configuration the task runs with
  std::string package_dir;                    ///< its save package (the original's record_path)
  std::string script_path;                    ///< analysis script folder; empty for training
  std::string description;                    ///< the user's note
  int64_t memory_mb = kDefaultMemoryMb;       ///< estimated GPU memory; negative: the default
  bool cpu = false;                           ///< runs on the CPU
  bool multi_gpu = false;                     ///< may spread over several GPUs
  bool ddp = false;                           ///< distributed data parallel
  int nproc = 0;                              ///< DDP ranks on the CPU; 0: the default (1)
  bool load_ckpt = false;                     ///< starts from a checkpoint (continue / analyze)
  int64_t checkpoint_id = kLatestCheckpoint;  ///< which checkpoint when load_ckpt
  std::vector<int> devices;                   ///< GPU ids it runs on, or {-1} for the CPU
  double submit_time = 0;                     ///< wall-clock seconds since the epoch
  double start_time = 0;                      ///< 0: not started
  double end_time = 0;                        ///< 0: not ended
  std::optional<int> exit_code;               ///< set when the task ended
  int pid = 0;                                ///< its process (group leader) while running; 0: none
  /// The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), so that a
  /// restarted server does not mistake a new process that reuses the pid for the task.
  uint64_t pid_start_ticks = 0;
  int restarts = 0;      ///< how many times it was restarted after a failure
  int max_restarts = 0;  ///< how many restarts it allows; 0: none
  std::string error;     ///< why it failed or was killed, for the user
  /// The project folder a new training was submitted from: where its build cache lives. Empty
  /// for continues and analyses.
  std::string project_dir;
  bool needs_build = false;  ///< its plugin is still to be built (the Building stage)
  /// A delete was answered with success: whatever happens next (a crash included), the task
  /// ends Killed and is never restarted.
  bool delete_requested = false;
  /// The most GPU memory its processes held at once, in MB: NVML's per-process use summed over
  /// every process of the task (all ranks, all GPUs), sampled while it runs; 0: none seen.
  int64_t peak_memory_mb = 0;
  /// Where memory_mb came from: "given", "default", or "auto: ..." (docs/scheduler.md).
  std::string memory_source;
  /// The "same config" key `-m auto` looks up peaks by (config_digest(), docs/scheduler.md).
  std::string config_digest;

  bool operator==(const TaskRecord& other) const;
  bool operator!=(const TaskRecord& other) const { return !(*this == other); }
};

/// The record as a /get_task_info entry (original names, plus the new fields).
Json task_to_json(const TaskRecord& task);
/// The record `task_to_json` wrote, or InvalidArgument naming the missing or mistyped field.
Result<TaskRecord> task_from_json(const Json& json);

}  // namespace dlnest
