#include "scheduler/scheduler.h"

#include <algorithm>
#include <utility>

namespace dlnest {
namespace {

using HoldMap = std::map<std::string, std::vector<int>>;

/// The planner's view of one GPU, updated as tasks are placed during one plan.
struct GpuSlot {
  int id = 0;
  int64_t total_mb = 0;
  int64_t effective_free_mb = 0;  ///< measured free minus the reservations not yet in it
  int64_t potential_mb = 0;       ///< free once our tasks on it have ended, at most its total
  int tasks = 0;                  ///< running tasks, and those placed by this plan
  bool usable = false;            ///< allowed, not broken, and max_task_per_device > 0
  bool held = false;              ///< held for an older waiting task
};

/// Orders by effective free memory, largest first, then by id.
bool more_free(const GpuSlot* a, const GpuSlot* b) {
  if (a->effective_free_mb != b->effective_free_mb) {
    return a->effective_free_mb > b->effective_free_mb;
  }
  return a->id < b->id;
}

/// One call of TaskScheduler::plan: walks the pending tasks in order over a working copy of the
/// GPUs.
class Planner {
 public:
  Planner(const SchedulerSnapshot& snapshot, double now, const HoldMap& previous_holds)
      : snapshot_(snapshot), now_(now), previous_holds_(previous_holds) {
    load_devices();
    load_running();
  }

  std::vector<Placement> run();
  HoldMap take_holds() { return std::move(holds_); }

 private:
  void load_devices();
  void load_running();
  int64_t estimate_of(const PendingTask& task) const;
  bool can_take(const GpuSlot& slot) const {
    return slot.usable && !slot.held && slot.tasks < snapshot_.settings.max_task_per_device;
  }
  GpuSlot* find(int id);
  std::vector<GpuSlot*> largest_first(bool (*keep)(const GpuSlot&, const Planner&));
  std::optional<Placement> fit_single(const PendingTask& task, int64_t estimate);
  std::optional<Placement> fit_multi(const PendingTask& task, int64_t estimate);
  void commit(const Placement& placement);
  void hold(const PendingTask& task, int64_t estimate, bool multi);
  std::vector<GpuSlot*> keep_previous_hold(const std::string& task_id, int64_t estimate);
  std::vector<GpuSlot*> choose_hold(int64_t estimate, bool multi);

  const SchedulerSnapshot& snapshot_;
  const double now_;
  const HoldMap& previous_holds_;
  std::vector<GpuSlot> slots_;  // by id
  int64_t default_estimate_mb_ = 0;
  HoldMap holds_;
};

void Planner::load_devices() {
  const auto& allowed = snapshot_.settings.allowed_devices;
  for (const GpuState& device : snapshot_.devices) {
    GpuSlot slot;
    slot.id = device.id;
    slot.total_mb = device.total_mb;
    slot.effective_free_mb = device.free_mb;
    slot.potential_mb = device.free_mb;
    const bool allowed_here =
        !allowed || std::find(allowed->begin(), allowed->end(), device.id) != allowed->end();
    slot.usable = allowed_here && !device.broken && snapshot_.settings.max_task_per_device > 0;
    slots_.push_back(slot);
  }
  std::sort(slots_.begin(), slots_.end(),
            [](const GpuSlot& a, const GpuSlot& b) { return a.id < b.id; });
  if (!slots_.empty()) default_estimate_mb_ = slots_.front().total_mb * 9 / 10;  // GPU 0
}

void Planner::load_running() {
  for (const RunningTask& task : snapshot_.running) {
    const bool allocated =
        task.allocated || now_ - task.start_time >= snapshot_.settings.allocation_timeout_s;
    for (size_t i = 0; i < task.devices.size(); ++i) {
      GpuSlot* slot = find(task.devices[i]);
      if (slot == nullptr) continue;  // the CPU, or a GPU the probe no longer reports
      const int64_t mb = i < task.reserved_mb.size() ? task.reserved_mb[i] : 0;
      ++slot->tasks;
      if (allocated) {
        slot->potential_mb += mb;
      } else {
        slot->effective_free_mb -= mb;
      }
    }
  }
  for (GpuSlot& slot : slots_) slot.potential_mb = std::min(slot.potential_mb, slot.total_mb);
}

GpuSlot* Planner::find(int id) {
  for (GpuSlot& slot : slots_) {
    if (slot.id == id) return &slot;
  }
  return nullptr;
}

int64_t Planner::estimate_of(const PendingTask& task) const {
  return task.estimate_mb < 0 ? default_estimate_mb_ : task.estimate_mb;
}

std::vector<Placement> Planner::run() {
  std::vector<Placement> placements;
  for (const PendingTask& task : snapshot_.pending) {
    if (task.wants_cpu) {
      placements.push_back(Placement{task.id, {kCpuPlacement}, {0}});
      continue;
    }
    const int64_t estimate = estimate_of(task);
    const bool multi = task.multi_card || task.ddp;
    std::optional<Placement> placement =
        multi ? fit_multi(task, estimate) : fit_single(task, estimate);
    if (placement) {
      commit(*placement);
      placements.push_back(std::move(*placement));
    } else if (now_ - task.submit_time >= snapshot_.settings.hold_after_s) {
      hold(task, estimate, multi);
    }
  }
  return placements;
}

std::optional<Placement> Planner::fit_single(const PendingTask& task, int64_t estimate) {
  for (const GpuSlot& slot : slots_) {
    if (can_take(slot) && slot.effective_free_mb > estimate) {
      return Placement{task.id, {slot.id}, {estimate}};
    }
  }
  return std::nullopt;
}

std::vector<GpuSlot*> Planner::largest_first(bool (*keep)(const GpuSlot&, const Planner&)) {
  std::vector<GpuSlot*> chosen;
  for (GpuSlot& slot : slots_) {
    if (keep(slot, *this)) chosen.push_back(&slot);
  }
  std::sort(chosen.begin(), chosen.end(), more_free);
  return chosen;
}

std::optional<Placement> Planner::fit_multi(const PendingTask& task, int64_t estimate) {
  const std::vector<GpuSlot*> candidates = largest_first(
      [](const GpuSlot& s, const Planner& p) { return p.can_take(s) && s.effective_free_mb > 0; });
  Placement placement{task.id, {}, {}};
  int64_t sum = 0;
  int64_t remaining = estimate;
  for (const GpuSlot* slot : candidates) {
    const int64_t share = std::min(slot->effective_free_mb, remaining);
    placement.devices.push_back(slot->id);
    placement.reserved_mb.push_back(share);
    remaining -= share;
    sum += slot->effective_free_mb;
    if (sum > estimate) return placement;
  }
  return std::nullopt;
}

void Planner::commit(const Placement& placement) {
  for (size_t i = 0; i < placement.devices.size(); ++i) {
    GpuSlot* slot = find(placement.devices[i]);
    slot->effective_free_mb -= placement.reserved_mb[i];
    ++slot->tasks;
  }
}

void Planner::hold(const PendingTask& task, int64_t estimate, bool multi) {
  std::vector<GpuSlot*> held = keep_previous_hold(task.id, estimate);
  if (held.empty()) held = choose_hold(estimate, multi);
  if (held.empty()) return;  // fits nowhere even once our tasks end: holding would only block
  std::vector<int>& ids = holds_[task.id];
  for (GpuSlot* slot : held) {
    slot->held = true;
    ids.push_back(slot->id);
  }
}

std::vector<GpuSlot*> Planner::keep_previous_hold(const std::string& task_id, int64_t estimate) {
  const auto previous = previous_holds_.find(task_id);
  if (previous == previous_holds_.end()) return {};
  std::vector<GpuSlot*> held;
  int64_t potential = 0;
  for (int id : previous->second) {
    GpuSlot* slot = find(id);
    if (slot == nullptr || !slot->usable || slot->held) return {};
    held.push_back(slot);
    potential += slot->potential_mb;
  }
  return potential > estimate ? held : std::vector<GpuSlot*>{};
}

std::vector<GpuSlot*> Planner::choose_hold(int64_t estimate, bool multi) {
  const std::vector<GpuSlot*> candidates = largest_first(
      [](const GpuSlot& s, const Planner&) { return s.usable && !s.held && s.potential_mb > 0; });
  std::vector<GpuSlot*> held;
  int64_t potential = 0;
  for (GpuSlot* slot : candidates) {
    if (!multi) {
      if (slot->potential_mb > estimate) return {slot};
      continue;
    }
    held.push_back(slot);
    potential += slot->potential_mb;
    if (potential > estimate) return held;
  }
  return {};
}

}  // namespace

RunningTask running_task_from(const Placement& placement, double now) {
  RunningTask task;
  task.id = placement.task_id;
  task.devices = placement.devices;
  task.reserved_mb = placement.reserved_mb;
  task.start_time = now;
  return task;
}

std::vector<Placement> TaskScheduler::plan(const SchedulerSnapshot& snapshot, double now) {
  Planner planner(snapshot, now, holds_);
  std::vector<Placement> placements = planner.run();
  holds_ = planner.take_holds();
  return placements;
}

std::vector<int> TaskScheduler::held_devices(const std::string& task_id) const {
  const auto it = holds_.find(task_id);
  return it == holds_.end() ? std::vector<int>{} : it->second;
}

}  // namespace dlnest
