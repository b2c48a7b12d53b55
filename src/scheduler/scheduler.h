// The scheduler's policy: which pending tasks start now, and on which devices.
//
// Pure logic over a snapshot of the info center (devices as measured, running and pending tasks,
// settings) and a time given by the caller, so that tests drive it with simulated devices and a
// fake clock. docs/scheduler.md states the rules.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dlnest {

/// The CPU in a placement's device list (the number the device probe gives it too).
inline constexpr int kCpuPlacement = -1;

/// A task's memory estimate that asks for the default: 90% of GPU 0's total memory.
inline constexpr int64_t kDefaultEstimate = -1;

/// One GPU as the device probe last measured it.
struct GpuState {
  int id = 0;            ///< the GPU's index, as NVML numbers it
  int64_t total_mb = 0;  ///< total memory
  int64_t free_mb = 0;   ///< free memory as measured, other users' processes included
  bool broken = false;   ///< the probe failed on this GPU: no task goes there
};

/// A task that was started by a Placement and has not ended yet.
struct RunningTask {
  std::string id;
  std::vector<int> devices;          ///< GPU ids, or {kCpuPlacement}
  std::vector<int64_t> reserved_mb;  ///< per entry of `devices`: the part of the estimate put there
  /// The task's memory now shows in the measured free memory of its GPUs. Until then (or until
  /// `SchedulerSettings::allocation_timeout_s` has passed since the start) its estimate is
  /// reserved on them.
  bool allocated = false;
  double start_time = 0;  ///< seconds, on the clock `TaskScheduler::plan` is given
};

/// A task waiting to start. Pending tasks are given to the scheduler in submission order.
struct PendingTask {
  std::string id;
  int64_t estimate_mb = kDefaultEstimate;  ///< memory it needs; negative: the default
  bool wants_cpu = false;                  ///< runs on the CPU: starts at once
  bool multi_card = false;                 ///< may spread over several GPUs
  bool ddp = false;                        ///< distributed data parallel: implies multi_card
  double submit_time = 0;                  ///< seconds, on the clock `TaskScheduler::plan` is given
};

/// The knobs of the policy.
struct SchedulerSettings {
  /// GPUs that new tasks may use (changeDevices); nullopt: every GPU. Running tasks keep theirs.
  std::optional<std::vector<int>> allowed_devices;
  /// The most tasks running on one GPU at a time (CPU tasks are not limited).
  int max_task_per_device = 10000;
  /// A started task that has not reported its allocation after this many seconds counts as
  /// allocated: its reservation ends and the measured free memory is trusted again.
  double allocation_timeout_s = 300;
  /// A pending task that has waited this many seconds gets GPUs held for it: tasks submitted
  /// after it no longer start there until it has started.
  double hold_after_s = 600;
};

/// What the info center knows when the scheduler is asked to plan.
struct SchedulerSnapshot {
  std::vector<GpuState> devices;     ///< every GPU; ids unique
  std::vector<RunningTask> running;  ///< tasks started and not ended
  std::vector<PendingTask> pending;  ///< in submission order
  SchedulerSettings settings;
};

/// A decision to start one pending task now.
struct Placement {
  std::string task_id;
  /// GPU ids, or {kCpuPlacement}. A multi-card task gets the GPU with most free memory first; for
  /// DDP this is the rank order.
  std::vector<int> devices;
  std::vector<int64_t> reserved_mb;  ///< per entry of `devices`: the estimate reserved there
};

/// The RunningTask that `placement` becomes when its task starts at `now` (not yet allocated).
RunningTask running_task_from(const Placement& placement, double now);

/// Decides which pending tasks start, one call per trigger (submit, task exit, allocation report,
/// and a timer). The only state kept between calls is which GPUs are held for long-waiting
/// tasks, so that a hold stays put until its task starts; losing it (a restart) is harmless.
class TaskScheduler {
 public:
  /// The pending tasks of `snapshot` that start at `now` and where, in submission order.
  std::vector<Placement> plan(const SchedulerSnapshot& snapshot, double now);

  /// The GPUs the last plan held for pending task `task_id`; empty when none.
  std::vector<int> held_devices(const std::string& task_id) const;

 private:
  std::map<std::string, std::vector<int>> holds_;
};

}  // namespace dlnest
