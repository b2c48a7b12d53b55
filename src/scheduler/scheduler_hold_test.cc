// The starvation rule: a task that has waited hold_after_s gets GPUs held for it, so younger tasks
// cannot starve it, while before that (and on the other GPUs) younger tasks may pass it.
#include <gtest/gtest.h>

#include <map>

#include "scheduler/scheduler.h"
#include "scheduler/scheduler_test_util.h"

namespace dlnest {
namespace {

using Ids = std::vector<int>;

/// Two GPUs of 10000 MB, each half used by an allocated task of ours; GPUs are held after 100 s.
class HoldTest : public testing::SchedulerTest {
 protected:
  void SetUp() override {
    snap_.settings.hold_after_s = 100;
    add_gpu(0, 10000, 5000);
    add_gpu(1, 10000, 6000);
    add_running("r0", {0}, {5000}, /*allocated=*/true);
    add_running("r1", {1}, {4000}, /*allocated=*/true);
  }
  Ids held(const std::string& task_id) const { return scheduler_.held_devices(task_id); }
};

TEST_F(HoldTest, WaitingTaskHoldsNothingBeforeHoldAfter) {
  submit("big", 8000, 0);
  submit("small", 1000, 50);
  EXPECT_EQ(plan(99), "small:0");
  EXPECT_EQ(held("big"), Ids());
}

TEST_F(HoldTest, WaitingTaskHoldsTheGpuWithMostFreeMemoryAfterHoldAfter) {
  submit("big", 8000, 0);
  submit("small", 1000, 50);
  EXPECT_EQ(plan(100), "small:0");
  EXPECT_EQ(held("big"), Ids({1}));
}

TEST_F(HoldTest, HeldGpuTakesNoYoungerTask) {
  gpu(0).broken = true;
  submit("big", 8000, 0);
  submit("small", 1000, 50);
  EXPECT_EQ(plan(100), "");
  EXPECT_EQ(held("big"), Ids({1}));
}

TEST_F(HoldTest, HeldGpuStillTakesOlderTasks) {
  gpu(0).broken = true;
  submit("old", 1000, 0);
  submit("big", 8000, 0);
  EXPECT_EQ(plan(100), "old:1");
  EXPECT_EQ(held("big"), Ids({1}));
}

TEST_F(HoldTest, CpuTasksStartWhileGpusAreHeld) {
  gpu(0).broken = true;
  submit("big", 8000, 0);
  submit_cpu("cpu", 50);
  EXPECT_EQ(plan(100), "cpu:cpu");
}

TEST_F(HoldTest, HoldCountsReservationsOfUnallocatedTasks) {
  add_running("r2", {1}, {3000}, /*allocated=*/false);  // GPU 1: 3000 MB effectively free
  submit("big", 8000, 0);
  plan(100);
  EXPECT_EQ(held("big"), Ids({0}));
}

TEST_F(HoldTest, HoldTieGoesToTheLowestId) {
  gpu(1).free_mb = 5000;
  submit("big", 8000, 0);
  plan(100);
  EXPECT_EQ(held("big"), Ids({0}));
}

TEST_F(HoldTest, HoldStaysPutWhenAnotherGpuGetsMoreFreeMemory) {
  submit("big", 8000, 0);
  plan(100);
  ASSERT_EQ(held("big"), Ids({1}));
  gpu(0).free_mb = 7000;  // still too little for big, but more than GPU 1 has
  submit("small", 1000, 105);
  EXPECT_EQ(plan(110), "small:0");
  EXPECT_EQ(held("big"), Ids({1}));
}

TEST_F(HoldTest, HeldTaskStartsWhenItsGpuDrains) {
  submit("big", 8000, 0);
  plan(100);
  finish("r1");
  submit("small", 1000, 105);
  EXPECT_EQ(plan(110), "big:1 small:0");
  EXPECT_EQ(held("big"), Ids());
}

TEST_F(HoldTest, HoldEndsWhenItsTaskStartsOnAnotherGpu) {
  submit("big", 8000, 0);
  plan(100);
  finish("r0");
  EXPECT_EQ(plan(110), "big:0");
  EXPECT_EQ(held("big"), Ids());
}

TEST_F(HoldTest, HoldEndsWhenItsTaskLeavesTheQueue) {
  gpu(0).broken = true;
  submit("big", 8000, 0);
  plan(100);
  snap_.pending.clear();
  submit("small", 1000, 105);
  EXPECT_EQ(plan(110), "small:1");
  EXPECT_EQ(held("big"), Ids());
}

TEST_F(HoldTest, TaskThatFitsNoGpuEvenWhenEmptyHoldsNothing) {
  submit("huge", 20000, 0);
  submit("small", 1000, 50);
  EXPECT_EQ(plan(1000), "small:0");
  EXPECT_EQ(held("huge"), Ids());
}

TEST_F(HoldTest, TaskBlockedByOtherUsersMemoryHoldsNothing) {
  snap_.running.clear();  // the used memory now belongs to other users
  submit("big", 8000, 0);
  submit("small", 1000, 50);
  EXPECT_EQ(plan(1000), "small:0");
  EXPECT_EQ(held("big"), Ids());
}

TEST_F(HoldTest, FreeMemoryOnceOurTasksEndIsCappedAtTheTotal) {
  running("r1").reserved_mb = {9000};  // overestimated: GPU 1 would seem to have 15000 MB
  submit("big", 12000, 0);
  plan(1000);
  EXPECT_EQ(held("big"), Ids());
}

TEST_F(HoldTest, HoldMovesWhenTheHeldGpuBreaks) {
  submit("big", 8000, 0);
  plan(100);
  gpu(1).broken = true;
  plan(110);
  EXPECT_EQ(held("big"), Ids({0}));
}

TEST_F(HoldTest, HoldMovesWhenTheHeldGpuIsNoLongerAllowed) {
  submit("big", 8000, 0);
  plan(100);
  snap_.settings.allowed_devices = Ids{0};
  plan(110);
  EXPECT_EQ(held("big"), Ids({0}));
}

TEST_F(HoldTest, HoldIsNeverOnADisallowedGpu) {
  snap_.settings.allowed_devices = Ids{0};
  submit("big", 8000, 0);
  submit("small", 1000, 50);
  EXPECT_EQ(plan(100), "");
  EXPECT_EQ(held("big"), Ids({0}));
}

TEST_F(HoldTest, TwoWaitingTasksHoldDifferentGpus) {
  submit("big1", 8000, 0);
  submit("big2", 7000, 10);
  submit("small", 1000, 50);
  EXPECT_EQ(plan(200), "");
  EXPECT_EQ(held("big1"), Ids({1}));
  EXPECT_EQ(held("big2"), Ids({0}));
}

TEST_F(HoldTest, YoungerWaitingTaskCannotTakeTheOlderOnesGpu) {
  gpu(0).broken = true;
  submit("big1", 8000, 0);
  submit("big2", 7000, 10);
  plan(200);
  EXPECT_EQ(held("big1"), Ids({1}));
  EXPECT_EQ(held("big2"), Ids());
  finish("r1");
  EXPECT_EQ(plan(210), "big1:1");
  EXPECT_EQ(held("big2"), Ids({1}));
}

TEST_F(HoldTest, OnlyTasksThatWaitedLongEnoughHold) {
  gpu(0).broken = true;
  submit("big1", 8000, 0);
  submit("big2", 7000, 150);
  plan(200);
  EXPECT_EQ(held("big1"), Ids({1}));
  EXPECT_EQ(held("big2"), Ids());
}

TEST_F(HoldTest, HeldGpuAtTheTaskLimitStaysHeldUntilItsTaskStarts) {
  snap_.settings.max_task_per_device = 1;
  gpu(1).free_mb = 4000;  // 5000 MB used by another user: big can never fit there
  running("r1").reserved_mb = {1000};
  submit("big", 8000, 0);
  plan(100);
  ASSERT_EQ(held("big"), Ids({0}));
  finish("r1");
  submit("small1", 1000, 105);
  EXPECT_EQ(plan_and_start(110), "small1:1");
  finish("r0");
  submit("small2", 1000, 115);
  EXPECT_EQ(plan(120), "big:0");
}

TEST_F(HoldTest, ANewSchedulerChoosesTheSameHold) {
  submit("big", 8000, 0);
  plan(100);
  TaskScheduler restarted;
  restarted.plan(snap_, 100);
  EXPECT_EQ(restarted.held_devices("big"), held("big"));
}

class HoldThreshold : public HoldTest, public ::testing::WithParamInterface<double> {};

TEST_P(HoldThreshold, HoldsOnceTheWaitReachesHoldAfter) {
  gpu(0).broken = true;
  submit("big", 8000, 1000);
  submit("small", 1000, 1000);
  const double waited = GetParam();
  EXPECT_EQ(plan(1000 + waited), waited >= 100 ? "" : "small:1");
  EXPECT_EQ(held("big"), waited >= 100 ? Ids({1}) : Ids());
}

INSTANTIATE_TEST_SUITE_P(Waits, HoldThreshold,
                         ::testing::Values(0.0, 50.0, 99.0, 99.9, 100.0, 100.1, 101.0, 1e6));

// --- Multi-card holds -------------------------------------------------------------------------

/// Three GPUs of 10000 MB, each with 6000 MB used by an allocated task of ours.
class MultiHoldTest : public testing::SchedulerTest {
 protected:
  void SetUp() override {
    snap_.settings.hold_after_s = 100;
    for (int id = 0; id < 3; ++id) {
      add_gpu(id, 10000, 4000);
      add_running("r" + std::to_string(id), {id}, {6000}, /*allocated=*/true);
    }
  }
};

TEST_F(MultiHoldTest, MultiCardTaskHoldsGpusUntilTheirSumWouldExceedItsEstimate) {
  submit_multi("big", 15000, 0);
  submit("small", 1000, 50);
  EXPECT_EQ(plan(100), "small:2");
  EXPECT_EQ(scheduler_.held_devices("big"), Ids({0, 1}));
}

TEST_F(MultiHoldTest, MultiCardHoldPrefersGpusWithMostFreeMemory) {
  gpu(2).free_mb = 5000;
  running("r2").reserved_mb = {5000};
  submit_multi("big", 15000, 0);
  plan(100);
  EXPECT_EQ(scheduler_.held_devices("big"), Ids({2, 0}));
}

TEST_F(MultiHoldTest, MultiCardTaskTooBigForAllGpusHoldsNothing) {
  submit_multi("big", 30000, 0);
  submit("small", 1000, 50);
  EXPECT_EQ(plan(100), "small:0");
  EXPECT_EQ(scheduler_.held_devices("big"), Ids());
}

TEST_F(MultiHoldTest, MultiCardTaskStartsWhenItsHeldGpusDrain) {
  submit_multi("big", 19000, 0);
  plan(100);
  finish("r0");
  submit("small", 1000, 105);
  EXPECT_EQ(plan_and_start(110), "small:2");
  finish("r1");
  EXPECT_EQ(plan(120), "big:0+1");
  EXPECT_EQ(reserved("big"), std::vector<int64_t>({10000, 9000}));
}

TEST_F(MultiHoldTest, DdpTaskHoldsLikeAMultiCardTask) {
  submit("big", 15000, 0).ddp = true;
  plan(100);
  EXPECT_EQ(scheduler_.held_devices("big"), Ids({0, 1}));
}

// --- Streams of tasks over time ---------------------------------------------------------------

/// Two GPUs of 10000 MB (room for four small tasks each); a small task of 2000 MB for 60 s arrives
/// every 10 s, so that both GPUs are never empty; one big task of 9500 MB for 100 s arrives at
/// t = 45. Tasks allocate one second after they start.
class StreamTest : public testing::SchedulerTest {
 protected:
  void SetUp() override {
    add_gpu(0, 10000);
    add_gpu(1, 10000);
  }

  /// Runs the stream until `until`; returns when each task started.
  std::map<std::string, double> run_stream(double until) {
    std::map<std::string, double> starts;
    std::map<std::string, double> ends;
    for (int now = 0; now <= until; ++now) {
      for (size_t i = snap_.running.size(); i-- > 0;) {
        if (ends[snap_.running[i].id] <= now) finish(snap_.running[i].id);
      }
      for (const RunningTask& task : std::vector<RunningTask>(snap_.running)) {
        if (!task.allocated) allocate(task.id);
      }
      if (now % 10 == 0) submit("s" + std::to_string(now), 2000, now);
      if (now == 45) submit("big", 9500, now);
      plan_and_start(now);
      for (const Placement& p : last_) {
        starts[p.task_id] = now;
        ends[p.task_id] = now + (p.task_id == "big" ? 100 : 60);
      }
    }
    return starts;
  }
};

TEST_F(StreamTest, StreamOfSmallTasksWouldStarveABigTaskWithoutHolds) {
  snap_.settings.hold_after_s = 1e9;
  EXPECT_EQ(run_stream(3000).count("big"), 0u);
}

TEST_F(StreamTest, StreamOfSmallTasksCannotStarveABigTask) {
  snap_.settings.hold_after_s = 100;
  const auto starts = run_stream(3000);
  ASSERT_EQ(starts.count("big"), 1u);
  EXPECT_LE(starts.at("big"), 45 + 100 + 60 + 1);
}

TEST_F(StreamTest, SmallTasksStartAtOnceWhileTheBigTaskWaitsLessThanHoldAfter) {
  snap_.settings.hold_after_s = 100;
  const auto starts = run_stream(100);
  for (int t = 0; t <= 100; t += 10) EXPECT_EQ(starts.at("s" + std::to_string(t)), t);
}

TEST_F(StreamTest, SmallTasksKeepStartingOnTheOtherGpuWhileOneIsHeld) {
  snap_.settings.hold_after_s = 100;
  const auto starts = run_stream(3000);
  for (int t = 0; t <= 3000; t += 10) {
    const std::string id = "s" + std::to_string(t);
    ASSERT_EQ(starts.count(id), 1u) << id;
    EXPECT_LE(starts.at(id) - t, 60) << id;
  }
}

}  // namespace
}  // namespace dlnest
