// The placement rules: first fit, default estimate, reservations, limits, allowed and broken GPUs,
// CPU tasks and multi-card tasks. Starvation rules are in scheduler_hold_test.cc.
#include "scheduler/scheduler.h"

#include <gtest/gtest.h>

#include "scheduler/scheduler_test_util.h"

namespace dlnest {
namespace {

using testing::SchedulerTest;
using Mbs = std::vector<int64_t>;

// --- Single GPU, first fit -------------------------------------------------------------------

TEST_F(SchedulerTest, EmptySnapshotPlansNothing) {
  EXPECT_EQ(plan(), "");
}

TEST_F(SchedulerTest, GpuTaskWaitsWhenThereIsNoGpu) {
  submit("a", 100);
  EXPECT_EQ(plan(), "");
}

TEST_F(SchedulerTest, TaskGoesToGpu0WhenAllAreFree) {
  add_gpu(0, 10000);
  add_gpu(1, 10000);
  submit("a", 1000);
  EXPECT_EQ(plan(), "a:0");
}

TEST_F(SchedulerTest, FirstFitSkipsGpuWithTooLittleFreeMemory) {
  add_gpu(0, 10000, 500);
  add_gpu(1, 10000, 800);
  add_gpu(2, 10000, 5000);
  submit("a", 1000);
  EXPECT_EQ(plan(), "a:2");
}

TEST_F(SchedulerTest, FirstFitPrefersLowestIdOverMostFree) {
  add_gpu(0, 10000, 2000);
  add_gpu(1, 80000);
  submit("a", 1000);
  EXPECT_EQ(plan(), "a:0");
}

TEST_F(SchedulerTest, OrderOfDevicesInSnapshotDoesNotMatter) {
  add_gpu(2, 10000);
  add_gpu(0, 10000, 100);
  add_gpu(1, 10000);
  submit("a", 1000);
  EXPECT_EQ(plan(), "a:1");
}

TEST_F(SchedulerTest, FreeMemoryEqualToEstimateIsNotEnough) {
  add_gpu(0, 10000, 4000);
  submit("a", 4000);
  EXPECT_EQ(plan(), "");
}

TEST_F(SchedulerTest, OneMbAboveEstimateIsEnough) {
  add_gpu(0, 10000, 4001);
  submit("a", 4000);
  EXPECT_EQ(plan(), "a:0");
}

TEST_F(SchedulerTest, TasksPackOntoFirstGpuUntilItIsFull) {
  add_gpu(0, 10000);
  add_gpu(1, 10000);
  for (const char* id : {"a", "b", "c", "d"}) submit(id, 3000);
  EXPECT_EQ(plan(), "a:0 b:0 c:0 d:1");
}

TEST_F(SchedulerTest, TaskThatFitsNowhereWaits) {
  add_gpu(0, 10000);
  add_gpu(1, 10000);
  submit("a", 20000);
  EXPECT_EQ(plan(), "");
}

TEST_F(SchedulerTest, SmallTaskPassesWaitingBigTask) {
  add_gpu(0, 10000, 5000);
  submit("big", 8000);
  submit("small", 1000, 1);
  EXPECT_EQ(plan(2), "small:0");
}

TEST_F(SchedulerTest, ZeroEstimateStillNeedsSomeFreeMemory) {
  add_gpu(0, 10000, 0);
  add_gpu(1, 10000, 1);
  submit("a", 0);
  EXPECT_EQ(plan(), "a:1");
}

TEST_F(SchedulerTest, SingleGpuPlacementReservesTheEstimate) {
  add_gpu(0, 10000);
  submit("a", 1234);
  EXPECT_EQ(plan(), "a:0");
  EXPECT_EQ(reserved("a"), Mbs({1234}));
}

TEST_F(SchedulerTest, PlacementsComeInSubmissionOrder) {
  add_gpu(0, 10000, 3000);
  add_gpu(1, 10000);
  submit("big", 5000);
  submit("small", 1000);
  EXPECT_EQ(plan(), "big:1 small:0");
}

TEST_F(SchedulerTest, MeasuredFreeMemoryIncludesOtherUsersProcesses) {
  add_gpu(0, 10000, 2000);  // 8000 MB used by someone else
  submit("a", 3000);
  EXPECT_EQ(plan(), "");
}

TEST_F(SchedulerTest, AllPendingTasksThatFitStartInOnePlan) {
  add_gpu(0, 100000);
  for (int i = 0; i < 20; ++i) submit("t" + std::to_string(i), 1000);
  plan();
  EXPECT_EQ(last_.size(), 20u);
}

TEST_F(SchedulerTest, PlanDoesNotChangeTheSnapshot) {
  add_gpu(0, 10000);
  submit("a", 1000);
  EXPECT_EQ(plan(), "a:0");
  EXPECT_EQ(plan(), "a:0");
}

// --- Default estimate -------------------------------------------------------------------------

TEST_F(SchedulerTest, DefaultEstimateIs90PercentOfGpu0Total) {
  add_gpu(0, 10000);
  submit("a", kDefaultEstimate);
  EXPECT_EQ(plan(), "a:0");
  EXPECT_EQ(reserved("a"), Mbs({9000}));
}

TEST_F(SchedulerTest, DefaultEstimateWaitsForANearlyEmptyGpu) {
  add_gpu(0, 10000, 9000);
  submit("a", kDefaultEstimate);
  EXPECT_EQ(plan(), "");
  gpu(0).free_mb = 9001;
  EXPECT_EQ(plan(), "a:0");
}

TEST_F(SchedulerTest, AnyNegativeEstimateMeansTheDefault) {
  add_gpu(0, 20000);
  submit("a", -7);
  plan();
  EXPECT_EQ(reserved("a"), Mbs({18000}));
}

TEST_F(SchedulerTest, DefaultEstimateComesFromGpu0WhereverItIsListed) {
  add_gpu(1, 40000);
  add_gpu(0, 10000, 0);
  submit("a", kDefaultEstimate);
  EXPECT_EQ(plan(), "a:1");
  EXPECT_EQ(reserved("a"), Mbs({9000}));
}

TEST_F(SchedulerTest, DefaultEstimateOfBigGpu0DoesNotFitSmallerGpu) {
  add_gpu(0, 40000, 0);
  add_gpu(1, 20000);
  submit("a", kDefaultEstimate);
  EXPECT_EQ(plan(), "");
}

TEST_F(SchedulerTest, DefaultEstimateUsesGpu0EvenWhenGpu0IsNotAllowed) {
  add_gpu(0, 10000);
  add_gpu(1, 40000);
  snap_.settings.allowed_devices = std::vector<int>{1};
  submit("a", kDefaultEstimate);
  EXPECT_EQ(plan(), "a:1");
  EXPECT_EQ(reserved("a"), Mbs({9000}));
}

TEST_F(SchedulerTest, WithoutGpu0TheLowestIdGivesTheDefault) {
  add_gpu(3, 30000);
  add_gpu(2, 20000);
  submit("a", kDefaultEstimate);
  EXPECT_EQ(plan(), "a:2");
  EXPECT_EQ(reserved("a"), Mbs({18000}));
}

TEST_F(SchedulerTest, DefaultEstimateAppliesToMultiCardTasks) {
  add_gpu(0, 10000, 5000);
  add_gpu(1, 10000, 5000);
  submit_multi("a", kDefaultEstimate);
  EXPECT_EQ(plan(), "a:0+1");
  EXPECT_EQ(reserved("a"), Mbs({5000, 4000}));
}

// --- Reservations -----------------------------------------------------------------------------

TEST_F(SchedulerTest, UnallocatedRunningTaskKeepsItsEstimateReserved) {
  add_gpu(0, 10000);
  add_gpu(1, 10000);
  add_running("r", {0}, {6000}, /*allocated=*/false);
  submit("a", 5000);
  EXPECT_EQ(plan(), "a:1");
}

TEST_F(SchedulerTest, AllocatedRunningTaskIsNotCountedTwice) {
  add_gpu(0, 10000, 4000);
  add_running("r", {0}, {6000}, /*allocated=*/true);
  submit("a", 3000);
  EXPECT_EQ(plan(), "a:0");
}

TEST_F(SchedulerTest, ManyTasksSubmittedAtOnceAreNotDoubleBooked) {
  add_gpu(0, 10000);
  add_gpu(1, 10000);
  for (int i = 0; i < 10; ++i) submit("t" + std::to_string(i), 3000);
  EXPECT_EQ(plan(), "t0:0 t1:0 t2:0 t3:1 t4:1 t5:1");
}

TEST_F(SchedulerTest, TasksStartedByEarlierPlanAreNotDoubleBooked) {
  add_gpu(0, 10000);
  submit("a", 6000);
  EXPECT_EQ(plan_and_start(0), "a:0");
  submit("b", 6000, 1);
  EXPECT_EQ(plan(1), "");  // a has not allocated yet: the measured free memory is still 10000
}

TEST_F(SchedulerTest, AllocationMovesTheReservationIntoMeasuredMemory) {
  add_gpu(0, 10000);
  submit("a", 6000);
  plan_and_start(0);
  submit("b", 3000, 1);
  submit("c", 3000, 1);
  EXPECT_EQ(plan(1), "b:0");
  allocate("a");
  EXPECT_EQ(plan(2), "b:0");
}

TEST_F(SchedulerTest, ReservationEndsAtAllocationTimeout) {
  add_gpu(0, 10000);
  snap_.settings.allocation_timeout_s = 100;
  add_running("r", {0}, {8000}, /*allocated=*/false, /*start=*/0);
  submit("a", 5000);
  EXPECT_EQ(plan(99.5), "");
  EXPECT_EQ(plan(100), "a:0");
}

TEST_F(SchedulerTest, DefaultAllocationTimeoutIsFiveMinutes) {
  add_gpu(0, 10000);
  add_running("r", {0}, {8000}, /*allocated=*/false, /*start=*/1000);
  submit("a", 5000, 1000);
  EXPECT_EQ(plan(1299), "");
  EXPECT_EQ(plan(1300), "a:0");
}

TEST_F(SchedulerTest, MultiCardRunningTaskReservesItsShareOnEachGpu) {
  add_gpu(0, 10000);
  add_gpu(1, 10000);
  add_running("r", {0, 1}, {9000, 2000}, /*allocated=*/false);
  submit("a", 7000);
  submit("b", 2000);
  EXPECT_EQ(plan(), "a:1");
}

TEST_F(SchedulerTest, CpuRunningTaskReservesNothing) {
  add_gpu(0, 10000);
  add_running("r", {kCpuPlacement}, {0}, /*allocated=*/false);
  submit("a", 9000);
  EXPECT_EQ(plan(), "a:0");
}

TEST_F(SchedulerTest, RunningTaskOnAGpuNoLongerReportedIsIgnored) {
  add_gpu(0, 10000);
  add_running("r", {7}, {9000}, /*allocated=*/false);
  submit("a", 9000);
  EXPECT_EQ(plan(), "a:0");
}

TEST_F(SchedulerTest, ReservationsAboveMeasuredFreeLeaveNoRoom) {
  add_gpu(0, 10000, 1000);
  add_running("r", {0}, {5000}, /*allocated=*/false);
  submit("a", 0);
  submit_multi("b", 0);
  EXPECT_EQ(plan(), "");
}

TEST_F(SchedulerTest, RunningTaskWithoutReservedEntriesReservesNothing) {
  add_gpu(0, 10000);
  add_running("r", {0}, {}, /*allocated=*/false);
  submit("a", 9000);
  EXPECT_EQ(plan(), "a:0");
}

TEST_F(SchedulerTest, RunningTaskFromPlacementIsUnallocatedAndStartsNow) {
  const RunningTask task = running_task_from(Placement{"a", {1, 0}, {300, 200}}, 42);
  EXPECT_EQ(task.id, "a");
  EXPECT_EQ(task.devices, std::vector<int>({1, 0}));
  EXPECT_EQ(task.reserved_mb, Mbs({300, 200}));
  EXPECT_FALSE(task.allocated);
  EXPECT_EQ(task.start_time, 42);
}

// --- max_task_per_device ----------------------------------------------------------------------

TEST_F(SchedulerTest, MaxTaskPerDeviceCountsRunningTasks) {
  add_gpu(0, 10000);
  add_gpu(1, 10000);
  snap_.settings.max_task_per_device = 1;
  add_running("r", {0}, {100}, /*allocated=*/true);
  submit("a", 100);
  EXPECT_EQ(plan(), "a:1");
}

TEST_F(SchedulerTest, MaxTaskPerDeviceCountsUnallocatedTasksToo) {
  add_gpu(0, 10000);
  snap_.settings.max_task_per_device = 2;
  add_running("r1", {0}, {100}, /*allocated=*/true);
  add_running("r2", {0}, {100}, /*allocated=*/false);
  submit("a", 100);
  EXPECT_EQ(plan(), "");
}

TEST_F(SchedulerTest, MaxTaskPerDeviceCountsPlacementsOfTheSamePlan) {
  add_gpu(0, 10000);
  add_gpu(1, 10000);
  snap_.settings.max_task_per_device = 2;
  for (const char* id : {"a", "b", "c", "d", "e"}) submit(id, 100);
  EXPECT_EQ(plan(), "a:0 b:0 c:1 d:1");
}

TEST_F(SchedulerTest, MaxTaskPerDeviceDoesNotLimitCpuTasks) {
  snap_.settings.max_task_per_device = 1;
  add_running("r", {kCpuPlacement}, {0}, false);
  for (const char* id : {"a", "b", "c"}) submit_cpu(id);
  EXPECT_EQ(plan(), "a:cpu b:cpu c:cpu");
}

TEST_F(SchedulerTest, CpuRunningTasksDoNotCountAgainstGpus) {
  add_gpu(0, 10000);
  snap_.settings.max_task_per_device = 1;
  add_running("r", {kCpuPlacement}, {0}, false);
  submit("a", 100);
  EXPECT_EQ(plan(), "a:0");
}

TEST_F(SchedulerTest, MultiCardTaskCountsOnEachOfItsGpus) {
  add_gpu(0, 10000);
  add_gpu(1, 10000);
  add_gpu(2, 10000);
  snap_.settings.max_task_per_device = 1;
  add_running("r", {0, 1}, {5000, 5000}, /*allocated=*/true);
  submit("a", 100);
  EXPECT_EQ(plan(), "a:2");
}

TEST_F(SchedulerTest, MultiCardTaskSkipsGpusAtTheLimit) {
  add_gpu(0, 10000);
  add_gpu(1, 10000);
  add_gpu(2, 10000);
  snap_.settings.max_task_per_device = 1;
  add_running("r", {1}, {100}, /*allocated=*/true);
  submit_multi("a", 15000);
  EXPECT_EQ(plan(), "a:0+2");
}

TEST_F(SchedulerTest, ZeroMaxTaskPerDeviceStartsNoGpuTask) {
  add_gpu(0, 10000);
  snap_.settings.max_task_per_device = 0;
  submit("a", 100, 0);
  submit_multi("b", 100, 0);
  submit_cpu("c", 0);
  EXPECT_EQ(plan(10000), "c:cpu");
  EXPECT_TRUE(scheduler_.held_devices("a").empty());
}

TEST_F(SchedulerTest, DefaultMaxTaskPerDeviceIsEffectivelyUnlimited) {
  add_gpu(0, 1000000);
  for (int i = 0; i < 500; ++i) submit("t" + std::to_string(i), 10);
  plan();
  EXPECT_EQ(last_.size(), 500u);
}

class MaxTaskSweep : public SchedulerTest, public ::testing::WithParamInterface<int> {};

TEST_P(MaxTaskSweep, StartsAtMostTheLimitOnEachGpu) {
  add_gpu(0, 100000);
  add_gpu(1, 100000);
  snap_.settings.max_task_per_device = GetParam();
  for (int i = 0; i < 12; ++i) submit("t" + std::to_string(i), 10);
  plan();
  EXPECT_EQ(static_cast<int>(last_.size()), 2 * GetParam());
}

INSTANTIATE_TEST_SUITE_P(Limits, MaxTaskSweep, ::testing::Values(1, 2, 3, 4, 5, 6));

// --- Allowed devices (changeDevices) ----------------------------------------------------------

TEST_F(SchedulerTest, EveryGpuIsAllowedByDefault) {
  add_gpu(0, 10000, 0);
  add_gpu(5, 10000);
  submit("a", 100);
  EXPECT_EQ(plan(), "a:5");
}

TEST_F(SchedulerTest, AllowedListRestrictsSingleGpuTasks) {
  add_gpu(0, 10000);
  add_gpu(1, 10000);
  add_gpu(2, 10000);
  snap_.settings.allowed_devices = std::vector<int>{2};
  submit("a", 100);
  EXPECT_EQ(plan(), "a:2");
}

TEST_F(SchedulerTest, AllowedListRestrictsMultiCardTasks) {
  add_gpu(0, 10000);
  add_gpu(1, 10000);
  add_gpu(2, 10000);
  snap_.settings.allowed_devices = std::vector<int>{0, 2};
  submit_multi("a", 25000);
  submit_multi("b", 15000);
  EXPECT_EQ(plan(), "b:0+2");
}

TEST_F(SchedulerTest, EmptyAllowedListStartsNoGpuTask) {
  add_gpu(0, 10000);
  snap_.settings.allowed_devices = std::vector<int>{};
  submit("a", 100);
  submit_cpu("b");
  EXPECT_EQ(plan(), "b:cpu");
}

TEST_F(SchedulerTest, AllowedIdsWithoutAGpuAreIgnored) {
  add_gpu(0, 10000);
  snap_.settings.allowed_devices = std::vector<int>{kCpuPlacement, 0, 9};
  submit("a", 100);
  EXPECT_EQ(plan(), "a:0");
}

TEST_F(SchedulerTest, OrderOfAllowedListDoesNotChangeFirstFit) {
  add_gpu(0, 10000);
  add_gpu(1, 10000);
  snap_.settings.allowed_devices = std::vector<int>{1, 0};
  submit("a", 100);
  EXPECT_EQ(plan(), "a:0");
}

TEST_F(SchedulerTest, CpuTasksIgnoreAllowedList) {
  snap_.settings.allowed_devices = std::vector<int>{};
  submit_cpu("a");
  EXPECT_EQ(plan(), "a:cpu");
}

TEST_F(SchedulerTest, AllowedGpuKeepsTheReservationsOfItsRunningTasks) {
  add_gpu(0, 10000);
  add_gpu(1, 10000);
  add_running("r", {1}, {8000}, /*allocated=*/false);
  snap_.settings.allowed_devices = std::vector<int>{1};
  submit("a", 1000);
  EXPECT_EQ(plan(), "a:1");
  submit("b", 1500);
  EXPECT_EQ(plan(), "a:1");
}

// --- Broken GPUs ------------------------------------------------------------------------------

TEST_F(SchedulerTest, BrokenGpuTakesNoSingleGpuTask) {
  add_gpu(0, 10000).broken = true;
  add_gpu(1, 10000);
  submit("a", 100);
  EXPECT_EQ(plan(), "a:1");
}

TEST_F(SchedulerTest, BrokenGpuTakesNoMultiCardTask) {
  add_gpu(0, 10000).broken = true;
  add_gpu(1, 10000);
  add_gpu(2, 10000);
  submit_multi("a", 25000);
  submit_multi("b", 15000);
  EXPECT_EQ(plan(), "b:1+2");
}

TEST_F(SchedulerTest, OnlyCpuTasksStartWhenEveryGpuIsBroken) {
  add_gpu(0, 10000).broken = true;
  add_gpu(1, 10000).broken = true;
  submit("a", 100);
  submit_cpu("b");
  EXPECT_EQ(plan(), "b:cpu");
}

TEST_F(SchedulerTest, RepairedGpuIsUsedAgain) {
  add_gpu(0, 10000).broken = true;
  submit("a", 100);
  EXPECT_EQ(plan(), "");
  gpu(0).broken = false;
  EXPECT_EQ(plan(), "a:0");
}

// --- CPU tasks --------------------------------------------------------------------------------

TEST_F(SchedulerTest, CpuTaskStartsWhenEveryGpuIsFull) {
  add_gpu(0, 10000, 0);
  submit_cpu("a");
  EXPECT_EQ(plan(), "a:cpu");
  EXPECT_EQ(reserved("a"), Mbs({0}));
}

TEST_F(SchedulerTest, CpuTaskStartsWithoutAnyGpu) {
  submit_cpu("a");
  EXPECT_EQ(plan(), "a:cpu");
}

TEST_F(SchedulerTest, CpuTasksKeepTheirPlaceAmongGpuTasks) {
  add_gpu(0, 10000);
  submit("a", 100);
  submit_cpu("b");
  submit("c", 100);
  EXPECT_EQ(plan(), "a:0 b:cpu c:0");
}

TEST_F(SchedulerTest, CpuTaskIgnoresItsEstimateAndMultiCardFlag) {
  add_gpu(0, 10000);
  PendingTask& task = submit_cpu("a");
  task.estimate_mb = 1 << 30;
  task.multi_card = true;
  task.ddp = true;
  submit("b", 9000);
  EXPECT_EQ(plan(), "a:cpu b:0");
}

// --- Multi-card tasks -------------------------------------------------------------------------

TEST_F(SchedulerTest, MultiCardUsesGpusWithMostFreeMemoryFirst) {
  add_gpu(0, 10000, 3000);
  add_gpu(1, 10000, 9000);
  add_gpu(2, 10000, 6000);
  submit_multi("a", 12000);
  EXPECT_EQ(plan(), "a:1+2");
}

TEST_F(SchedulerTest, MultiCardAddsGpusUntilTheSumExceedsTheEstimate) {
  add_gpu(0, 10000, 3000);
  add_gpu(1, 10000, 9000);
  add_gpu(2, 10000, 6000);
  submit_multi("a", 16000);
  EXPECT_EQ(plan(), "a:1+2+0");
  EXPECT_EQ(reserved("a"), Mbs({9000, 6000, 1000}));
}

TEST_F(SchedulerTest, MultiCardSumEqualToEstimateIsNotEnough) {
  add_gpu(0, 10000, 6000);
  add_gpu(1, 10000, 4000);
  submit_multi("a", 10000);
  EXPECT_EQ(plan(), "");
}

TEST_F(SchedulerTest, MultiCardAddsAnotherGpuWhenTheSumEqualsTheEstimate) {
  add_gpu(0, 10000, 6000);
  add_gpu(1, 10000, 4000);
  add_gpu(2, 10000, 1000);
  submit_multi("a", 10000);
  EXPECT_EQ(plan(), "a:0+1+2");
  EXPECT_EQ(reserved("a"), Mbs({6000, 4000, 0}));
}

TEST_F(SchedulerTest, MultiCardWaitsWhenAllGpusTogetherAreTooSmall) {
  add_gpu(0, 10000);
  add_gpu(1, 10000);
  submit_multi("a", 20000);
  EXPECT_EQ(plan(), "");
}

TEST_F(SchedulerTest, MultiCardTakesOneGpuWhenOneIsEnough) {
  add_gpu(0, 10000, 5000);
  add_gpu(1, 10000, 8000);
  submit_multi("a", 7000);
  EXPECT_EQ(plan(), "a:1");
  EXPECT_EQ(reserved("a"), Mbs({7000}));
}

TEST_F(SchedulerTest, MultiCardBreaksTiesByLowestId) {
  add_gpu(2, 10000);
  add_gpu(1, 10000);
  add_gpu(0, 10000, 100);
  submit_multi("a", 15000);
  EXPECT_EQ(plan(), "a:1+2");
}

TEST_F(SchedulerTest, MultiCardSharesAddUpToTheEstimate) {
  add_gpu(0, 10000, 7000);
  add_gpu(1, 10000, 7000);
  add_gpu(2, 10000, 7000);
  submit_multi("a", 20000);
  EXPECT_EQ(plan(), "a:0+1+2");
  EXPECT_EQ(reserved("a"), Mbs({7000, 7000, 6000}));
}

TEST_F(SchedulerTest, DdpImpliesMultiCard) {
  add_gpu(0, 10000);
  add_gpu(1, 10000);
  submit("a", 15000).ddp = true;
  EXPECT_EQ(plan(), "a:0+1");
}

TEST_F(SchedulerTest, MultiCardOrdersByFreeMemoryAfterReservations) {
  add_gpu(0, 10000);
  add_gpu(1, 10000, 9000);
  add_running("r", {0}, {5000}, /*allocated=*/false);
  submit_multi("a", 12000);
  EXPECT_EQ(plan(), "a:1+0");
  EXPECT_EQ(reserved("a"), Mbs({9000, 3000}));
}

TEST_F(SchedulerTest, MultiCardSkipsGpusWithNoFreeMemoryLeft) {
  add_gpu(0, 10000, 0);
  add_gpu(1, 10000, 1000);
  add_running("r", {1}, {2000}, /*allocated=*/false);  // -1000 MB left
  add_gpu(2, 10000, 6000);
  add_gpu(3, 10000, 5000);
  submit_multi("a", 10999);
  EXPECT_EQ(plan(), "a:2+3");
}

TEST_F(SchedulerTest, TaskAfterMultiCardTaskSeesWhatItReserved) {
  add_gpu(0, 10000);
  add_gpu(1, 10000);
  submit_multi("a", 15000);
  submit("b", 4000);
  submit("c", 5000);
  EXPECT_EQ(plan(), "a:0+1 b:1");
}

TEST_F(SchedulerTest, ZeroEstimateMultiCardTakesTheGpuWithMostFree) {
  add_gpu(0, 10000, 10);
  add_gpu(1, 10000, 20);
  submit_multi("a", 0);
  EXPECT_EQ(plan(), "a:1");
  EXPECT_EQ(reserved("a"), Mbs({0}));
}

TEST_F(SchedulerTest, WaitingMultiCardTaskDoesNotBlockSmallerOnes) {
  add_gpu(0, 10000, 6000);
  add_gpu(1, 10000, 6000);
  submit_multi("a", 15000);
  submit("b", 5000, 1);
  EXPECT_EQ(plan(2), "b:0");
}

// --- The boundary of "fits", swept -----------------------------------------------------------

struct FitCase {
  bool multi;
  int64_t margin;  // free memory minus estimate
};

class FitBoundary : public SchedulerTest, public ::testing::WithParamInterface<FitCase> {};

TEST_P(FitBoundary, FitsOnlyWhenFreeMemoryExceedsTheEstimate) {
  const FitCase c = GetParam();
  add_gpu(0, 100000, 20000);
  add_gpu(1, 100000, 30000);
  const int64_t free = c.multi ? 50000 : 30000;
  if (c.multi) {
    submit_multi("a", free - c.margin);
  } else {
    submit("a", free - c.margin);
  }
  EXPECT_EQ(plan(), c.margin > 0 ? (c.multi ? "a:1+0" : "a:1") : "");
}

INSTANTIATE_TEST_SUITE_P(Margins, FitBoundary,
                         ::testing::Values(FitCase{false, -1000}, FitCase{false, -1},
                                           FitCase{false, 0}, FitCase{false, 1},
                                           FitCase{false, 1000}, FitCase{true, -1000},
                                           FitCase{true, -1}, FitCase{true, 0}, FitCase{true, 1},
                                           FitCase{true, 1000}));

}  // namespace
}  // namespace dlnest
