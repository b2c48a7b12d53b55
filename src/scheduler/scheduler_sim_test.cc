// Randomized simulation: many seeds, many steps of submit / start / allocate / finish / delete,
// with GPUs breaking, the allowed list changing and other users taking memory. Every plan is
// checked against an independent account of the GPUs; at the end resources free up and every task
// that can run at all must start.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "scheduler/scheduler.h"

namespace dlnest {
namespace {

/// What the simulation knows about a task beyond what the scheduler sees.
struct SimTask {
  PendingTask spec;
  int64_t estimate_mb = 0;         // resolved (the default applied)
  bool can_ever_run = true;        // fits the machine once every GPU is free and allowed
  bool reports_allocation = true;  // false: uses no GPU memory and never reports
  double duration_s = 0;
  double allocation_delay_s = 0;  // below the allocation timeout
  double start_time = -1;
  double end_time = -1;
  bool deleted = false;
};

class Simulation {
 public:
  explicit Simulation(uint32_t seed) : rng_(seed) { set_up_machine(); }

  /// Runs `steps` steps with random events and submissions.
  void run_busy(int steps) {
    for (int i = 0; i < steps && !::testing::Test::HasFatalFailure(); ++i) step(/*busy=*/true);
  }

  /// Frees every resource, stops submissions, and runs until nothing is left to start or run
  /// (a few thousand steps at most; the limit only stops a livelock).
  void run_until_idle() {
    for (GpuState& gpu : snap_.devices) gpu.broken = false;
    snap_.settings.allowed_devices.reset();
    std::fill(external_mb_.begin(), external_mb_.end(), 0);
    for (int i = 0; i < 30000 && !idle(); ++i) step(/*busy=*/false);
    EXPECT_TRUE(idle()) << "tasks still pending or running after 30000 steps";
  }

  /// Every task that can run at all and was not deleted has started.
  void expect_all_started() const {
    for (const auto& [id, task] : tasks_) {
      if (task.deleted) continue;
      if (task.can_ever_run) {
        EXPECT_GE(task.start_time, task.spec.submit_time) << id << " never started";
      } else {
        EXPECT_TRUE(scheduler_.held_devices(id).empty()) << id << " cannot run but holds GPUs";
      }
    }
  }

  int started() const {
    return static_cast<int>(std::count_if(tasks_.begin(), tasks_.end(),
                                          [](const auto& t) { return t.second.start_time >= 0; }));
  }

 private:
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  double real(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng_); }
  bool chance(double p) { return real(0, 1) < p; }

  void set_up_machine();
  void step(bool busy);
  void random_events();
  void submit_random_task();
  void end_tasks();
  void allocate_tasks();
  void probe();
  void check_plan(const std::vector<Placement>& placements) const;
  void check_placement(const Placement& placement) const;
  void start(const Placement& placement);
  bool idle() const;
  int64_t reserved_not_in_measured(int gpu) const;

  std::mt19937 rng_;
  double submit_chance_ = 0;  // per step: from a quiet machine to an overloaded one
  double now_ = 1000;
  int next_id_ = 0;
  std::vector<int64_t> external_mb_;  // by GPU id: memory of other users
  SchedulerSnapshot snap_;
  TaskScheduler scheduler_;
  std::map<std::string, SimTask> tasks_;
};

void Simulation::set_up_machine() {
  static const int64_t kTotals[] = {8000, 11000, 16000, 24000, 40000, 80000};
  const int gpus = uniform(1, 6);
  for (int id = 0; id < gpus; ++id) {
    const int64_t total = kTotals[uniform(0, 5)];
    snap_.devices.push_back(GpuState{id, total, total, false});
  }
  std::shuffle(snap_.devices.begin(), snap_.devices.end(), rng_);
  external_mb_.assign(gpus, 0);
  static const int kLimits[] = {1, 2, 3, 5, 10000};
  snap_.settings.max_task_per_device = kLimits[uniform(0, 4)];
  snap_.settings.allocation_timeout_s = uniform(0, 1) ? 60 : 300;
  snap_.settings.hold_after_s = uniform(0, 1) ? 120 : 600;
  submit_chance_ = real(0.02, 0.3);
}

void Simulation::step(bool busy) {
  now_ += uniform(1, 20);
  end_tasks();
  allocate_tasks();
  probe();
  if (busy) random_events();
  probe();
  if (busy && chance(submit_chance_)) {
    const int n = chance(0.05) ? 15 : uniform(1, 2);  // now and then a burst
    for (int i = 0; i < n; ++i) submit_random_task();
  }
  const std::vector<Placement> placements = scheduler_.plan(snap_, now_);
  check_plan(placements);
  for (const Placement& p : placements) start(p);
}

void Simulation::random_events() {
  SchedulerSettings& settings = snap_.settings;
  const int gpus = static_cast<int>(external_mb_.size());
  if (chance(0.02)) {
    GpuState& gpu = snap_.devices[uniform(0, gpus - 1)];
    gpu.broken = !gpu.broken;
  }
  if (chance(0.02)) {
    settings.allowed_devices.reset();
    if (chance(0.7)) {
      settings.allowed_devices.emplace();
      for (int id = 0; id < gpus; ++id) {
        if (chance(0.6)) settings.allowed_devices->push_back(id);
      }
    }
  }
  if (chance(0.05)) {  // another user takes some truly free memory, or gives it back
    const int id = uniform(0, gpus - 1);
    const GpuState& gpu = *std::find_if(snap_.devices.begin(), snap_.devices.end(),
                                        [id](const GpuState& d) { return d.id == id; });
    const int64_t room = gpu.free_mb - reserved_not_in_measured(id);
    external_mb_[id] = chance(0.5) || room <= 0 ? 0 : external_mb_[id] + room * uniform(1, 9) / 10;
  }
  if (chance(0.03) && !snap_.pending.empty()) {  // del of a pending task
    const size_t i = uniform(0, static_cast<int>(snap_.pending.size()) - 1);
    tasks_[snap_.pending[i].id].deleted = true;
    snap_.pending.erase(snap_.pending.begin() + i);
  }
  if (chance(0.03) && !snap_.running.empty()) {  // del of a running task: it ends now
    tasks_[snap_.running[uniform(0, static_cast<int>(snap_.running.size()) - 1)].id].end_time =
        now_;
    end_tasks();
  }
}

void Simulation::submit_random_task() {
  SimTask task;
  task.spec.id = "T_" + std::to_string(next_id_++);
  task.spec.submit_time = now_;
  int64_t max_total = 0, sum_total = 0;
  for (const GpuState& gpu : snap_.devices) {
    max_total = std::max(max_total, gpu.total_mb);
    sum_total += gpu.total_mb;
  }
  const int kind = uniform(0, 99);
  task.spec.wants_cpu = kind < 10;
  task.spec.multi_card = kind >= 10 && kind < 20;
  task.spec.ddp = kind >= 15 && kind < 25;
  if (kind < 35) {
    task.spec.estimate_mb = uniform(0, static_cast<int>(max_total / 4));
  } else if (kind < 45) {
    task.spec.estimate_mb = kDefaultEstimate;
  } else {
    const int64_t cap = task.spec.multi_card || task.spec.ddp ? sum_total : max_total;
    task.spec.estimate_mb = chance(0.7) ? uniform(0, static_cast<int>(max_total / 3))
                                        : uniform(0, static_cast<int>(cap * 11 / 10));
  }
  const auto gpu0 =
      std::min_element(snap_.devices.begin(), snap_.devices.end(),
                       [](const GpuState& a, const GpuState& b) { return a.id < b.id; });
  task.estimate_mb = task.spec.estimate_mb < 0 ? gpu0->total_mb * 9 / 10 : task.spec.estimate_mb;
  const bool multi = task.spec.multi_card || task.spec.ddp;
  task.can_ever_run = task.spec.wants_cpu || task.estimate_mb < (multi ? sum_total : max_total);
  task.reports_allocation = chance(0.9);
  task.duration_s = real(10, 600);
  task.allocation_delay_s = real(0, 0.9 * snap_.settings.allocation_timeout_s);
  snap_.pending.push_back(task.spec);
  tasks_[task.spec.id] = task;
}

void Simulation::end_tasks() {
  snap_.running.erase(
      std::remove_if(snap_.running.begin(), snap_.running.end(),
                     [this](const RunningTask& t) { return tasks_[t.id].end_time <= now_; }),
      snap_.running.end());
}

void Simulation::allocate_tasks() {
  for (RunningTask& task : snap_.running) {
    const SimTask& sim = tasks_[task.id];
    if (sim.reports_allocation && now_ >= sim.start_time + sim.allocation_delay_s) {
      task.allocated = true;
    }
  }
}

/// The simulated device probe: measured free memory from what really uses each GPU.
void Simulation::probe() {
  for (GpuState& gpu : snap_.devices) {
    int64_t used = external_mb_[gpu.id];
    for (const RunningTask& task : snap_.running) {
      for (size_t i = 0; i < task.devices.size(); ++i) {
        if (task.devices[i] == gpu.id && task.allocated) used += task.reserved_mb[i];
      }
    }
    ASSERT_LE(used, gpu.total_mb) << "GPU " << gpu.id << " is over-committed";
    gpu.free_mb = gpu.total_mb - used;
  }
}

/// Estimates of started tasks that are not yet in the measured free memory of `gpu`.
int64_t Simulation::reserved_not_in_measured(int gpu) const {
  int64_t mb = 0;
  for (const RunningTask& task : snap_.running) {
    const bool timed_out = now_ - task.start_time >= snap_.settings.allocation_timeout_s;
    if (task.allocated || timed_out) continue;
    for (size_t i = 0; i < task.devices.size(); ++i) {
      if (task.devices[i] == gpu) mb += task.reserved_mb[i];
    }
  }
  return mb;
}

void Simulation::check_plan(const std::vector<Placement>& placements) const {
  std::set<std::string> placed;
  for (const Placement& p : placements) {
    EXPECT_TRUE(placed.insert(p.task_id).second) << p.task_id << " placed twice";
    check_placement(p);
  }
  for (const PendingTask& task : snap_.pending) {
    if (task.wants_cpu) {
      EXPECT_EQ(placed.count(task.id), 1u) << task.id << ": CPU task waits";
    }
  }
  for (const GpuState& gpu : snap_.devices) {
    int64_t new_mb = 0;
    int new_tasks = 0;
    int tasks = 0;
    for (const RunningTask& t : snap_.running) {
      tasks += static_cast<int>(std::count(t.devices.begin(), t.devices.end(), gpu.id));
    }
    for (const Placement& p : placements) {
      for (size_t i = 0; i < p.devices.size(); ++i) {
        if (p.devices[i] != gpu.id) continue;
        new_mb += p.reserved_mb[i];
        ++new_tasks;
      }
    }
    if (new_tasks == 0) continue;
    tasks += new_tasks;
    EXPECT_LE(new_mb, gpu.free_mb - reserved_not_in_measured(gpu.id)) << "GPU " << gpu.id;
    EXPECT_LE(tasks, snap_.settings.max_task_per_device) << "GPU " << gpu.id;
  }
}

void Simulation::check_placement(const Placement& p) const {
  const auto pending = std::find_if(snap_.pending.begin(), snap_.pending.end(),
                                    [&](const PendingTask& t) { return t.id == p.task_id; });
  ASSERT_NE(pending, snap_.pending.end()) << p.task_id << " is not pending";
  ASSERT_EQ(p.devices.size(), p.reserved_mb.size());
  ASSERT_FALSE(p.devices.empty());
  if (pending->wants_cpu) {
    EXPECT_EQ(p.devices, std::vector<int>{kCpuPlacement});
    return;
  }
  const SimTask& task = tasks_.at(p.task_id);
  if (!pending->multi_card && !pending->ddp) {
    EXPECT_EQ(p.devices.size(), 1u) << p.task_id;
  }
  int64_t sum = 0;
  for (size_t i = 0; i < p.devices.size(); ++i) sum += p.reserved_mb[i];
  EXPECT_EQ(sum, task.estimate_mb) << p.task_id;
  EXPECT_EQ(std::set<int>(p.devices.begin(), p.devices.end()).size(), p.devices.size());
  const auto& allowed = snap_.settings.allowed_devices;
  for (int id : p.devices) {
    const auto gpu = std::find_if(snap_.devices.begin(), snap_.devices.end(),
                                  [id](const GpuState& d) { return d.id == id; });
    ASSERT_NE(gpu, snap_.devices.end()) << "no GPU " << id;
    EXPECT_FALSE(gpu->broken) << p.task_id << " on broken GPU " << id;
    EXPECT_TRUE(!allowed || std::count(allowed->begin(), allowed->end(), id) == 1)
        << p.task_id << " on disallowed GPU " << id;
  }
}

void Simulation::start(const Placement& placement) {
  SimTask& task = tasks_[placement.task_id];
  task.start_time = now_;
  task.end_time = now_ + task.duration_s;
  snap_.running.push_back(running_task_from(placement, now_));
  snap_.pending.erase(
      std::find_if(snap_.pending.begin(), snap_.pending.end(),
                   [&](const PendingTask& t) { return t.id == placement.task_id; }));
}

bool Simulation::idle() const {
  return snap_.running.empty() &&
         std::none_of(snap_.pending.begin(), snap_.pending.end(),
                      [this](const PendingTask& t) { return tasks_.at(t.id).can_ever_run; });
}

class SchedulerSimTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(SchedulerSimTest, InvariantsHoldAndEveryTaskEventuallyStarts) {
  Simulation sim(GetParam());
  sim.run_busy(600);
  ASSERT_FALSE(HasFailure());
  sim.run_until_idle();
  ASSERT_FALSE(HasFailure());
  sim.expect_all_started();
  EXPECT_GT(sim.started(), 0);
}

INSTANTIATE_TEST_SUITE_P(Seeds, SchedulerSimTest, ::testing::Range<uint32_t>(0, 200));

}  // namespace
}  // namespace dlnest
