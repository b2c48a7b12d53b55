// Test helpers for the scheduler: a snapshot built step by step, simulated GPUs, a fake clock.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "scheduler/scheduler.h"

namespace dlnest {
namespace testing {

/// "a:0 b:2+1 c:cpu": each placement as task:devices, in order.
inline std::string describe(const std::vector<Placement>& placements) {
  std::string text;
  for (const Placement& p : placements) {
    if (!text.empty()) text += ' ';
    text += p.task_id + ':';
    for (size_t i = 0; i < p.devices.size(); ++i) {
      if (i > 0) text += '+';
      text += p.devices[i] == kCpuPlacement ? "cpu" : std::to_string(p.devices[i]);
    }
  }
  return text;
}

/// A snapshot that the test fills in, a TaskScheduler, and simulated allocation and exit of tasks.
class SchedulerTest : public ::testing::Test {
 protected:
  /// Adds GPU `id` of `total_mb`, of which `free_mb` is free (negative: all of it).
  GpuState& add_gpu(int id, int64_t total_mb, int64_t free_mb = -1) {
    snap_.devices.push_back(GpuState{id, total_mb, free_mb < 0 ? total_mb : free_mb, false});
    return snap_.devices.back();
  }
  GpuState& gpu(int id) {
    return *std::find_if(snap_.devices.begin(), snap_.devices.end(),
                         [id](const GpuState& d) { return d.id == id; });
  }

  /// Submits a single-GPU task needing `estimate_mb` at time `at`.
  PendingTask& submit(const std::string& id, int64_t estimate_mb, double at = 0) {
    PendingTask task;
    task.id = id;
    task.estimate_mb = estimate_mb;
    task.submit_time = at;
    snap_.pending.push_back(task);
    return snap_.pending.back();
  }
  PendingTask& submit_multi(const std::string& id, int64_t estimate_mb, double at = 0) {
    PendingTask& task = submit(id, estimate_mb, at);
    task.multi_card = true;
    return task;
  }
  PendingTask& submit_cpu(const std::string& id, double at = 0) {
    PendingTask& task = submit(id, kDefaultEstimate, at);
    task.wants_cpu = true;
    return task;
  }

  /// Adds a task that already runs on `devices`, reserving `reserved` there.
  RunningTask& add_running(const std::string& id, std::vector<int> devices,
                           std::vector<int64_t> reserved, bool allocated, double start = 0) {
    snap_.running.push_back(
        RunningTask{id, std::move(devices), std::move(reserved), allocated, start});
    return snap_.running.back();
  }

  /// Plans at `now`; returns the placements described (see describe()).
  std::string plan(double now = 0) {
    last_ = scheduler_.plan(snap_, now);
    return describe(last_);
  }

  /// Plans at `now` and starts what was placed: those tasks move from pending to running.
  std::string plan_and_start(double now = 0) {
    const std::string text = plan(now);
    for (const Placement& p : last_) {
      snap_.running.push_back(running_task_from(p, now));
      snap_.pending.erase(std::find_if(snap_.pending.begin(), snap_.pending.end(),
                                       [&](const PendingTask& t) { return t.id == p.task_id; }));
    }
    return text;
  }

  /// Running task `id` allocates exactly its reservation: the measured free memory drops.
  void allocate(const std::string& id) {
    RunningTask& task = running(id);
    for (size_t i = 0; i < task.devices.size(); ++i) {
      if (task.devices[i] != kCpuPlacement) gpu(task.devices[i]).free_mb -= task.reserved_mb[i];
    }
    task.allocated = true;
  }

  /// Running task `id` ends; the memory it had allocated is free again.
  void finish(const std::string& id) {
    RunningTask& task = running(id);
    for (size_t i = 0; i < task.devices.size(); ++i) {
      if (task.devices[i] != kCpuPlacement && task.allocated) {
        gpu(task.devices[i]).free_mb += task.reserved_mb[i];
      }
    }
    snap_.running.erase(snap_.running.begin() + (&task - snap_.running.data()));
  }

  RunningTask& running(const std::string& id) {
    return *std::find_if(snap_.running.begin(), snap_.running.end(),
                         [&](const RunningTask& t) { return t.id == id; });
  }

  /// The memory the last plan reserved for `task_id`, per device.
  std::vector<int64_t> reserved(const std::string& task_id) const {
    for (const Placement& p : last_) {
      if (p.task_id == task_id) return p.reserved_mb;
    }
    return {};
  }

  SchedulerSnapshot snap_;
  TaskScheduler scheduler_;
  std::vector<Placement> last_;
};

}  // namespace testing
}  // namespace dlnest
