#include "devices/simulated_probe.h"

#include <gtest/gtest.h>

namespace dlnest {
namespace {

const DeviceInfo& gpu(const DeviceSnapshot& snapshot, int index) {
  const DeviceInfo* info = snapshot.find(index);
  EXPECT_NE(info, nullptr) << "no device " << index;
  return *info;
}

TEST(SimulatedProbeTest, ReportsTheCpuAndEmptyGpus) {
  SimulatedProbe probe({24000, 12000});
  DeviceSnapshot snapshot = probe.probe();
  ASSERT_EQ(snapshot.devices.size(), 3u);
  EXPECT_TRUE(snapshot.devices[0].is_cpu());
  EXPECT_EQ(snapshot.devices[0].name, "CPU");
  EXPECT_EQ(snapshot.gpu_count(), 2);
  EXPECT_EQ(gpu(snapshot, 1).total_mb, 12000);
  EXPECT_EQ(gpu(snapshot, 1).free_mb, 12000);
  EXPECT_EQ(gpu(snapshot, 1).used_mb, 0);
  EXPECT_FALSE(gpu(snapshot, 1).broken);
  EXPECT_TRUE(gpu(snapshot, 1).processes.empty());
  EXPECT_EQ(snapshot.find(2), nullptr);
  EXPECT_EQ(probe.notice(), "simulated GPUs, not real hardware: 24000 MB, 12000 MB");
}

TEST(SimulatedProbeTest, UsedMemoryFollowsPlacedTasks) {
  SimulatedProbe probe({24000, 24000});
  ASSERT_TRUE(probe.place("T_1", 0, 10000, 101).is_ok());
  ASSERT_TRUE(probe.place("T_2", 0, 4000, 102).is_ok());
  ASSERT_TRUE(probe.place("T_2", 1, 4000, 103).is_ok());  // a multi-card task
  DeviceSnapshot snapshot = probe.probe();
  EXPECT_EQ(gpu(snapshot, 0).used_mb, 14000);
  EXPECT_EQ(gpu(snapshot, 0).free_mb, 10000);
  ASSERT_EQ(gpu(snapshot, 0).processes.size(), 2u);
  EXPECT_EQ(gpu(snapshot, 0).processes[1].pid, 102);
  EXPECT_EQ(gpu(snapshot, 0).processes[1].used_mb, 4000);
  EXPECT_EQ(gpu(snapshot, 1).used_mb, 4000);

  probe.remove("T_2");
  snapshot = probe.probe();
  EXPECT_EQ(gpu(snapshot, 0).used_mb, 10000);
  EXPECT_EQ(gpu(snapshot, 1).used_mb, 0);
  probe.remove("T_unknown");
  EXPECT_EQ(probe.probe().find(0)->used_mb, 10000);
}

TEST(SimulatedProbeTest, PlacingAgainReplacesWhatTheTaskHeld) {
  SimulatedProbe probe({24000});
  ASSERT_TRUE(probe.place("T_1", 0, 2000).is_ok());
  ASSERT_TRUE(probe.place("T_1", 0, 23000).is_ok());  // grows into its own reservation
  EXPECT_EQ(probe.probe().find(0)->used_mb, 23000);
  EXPECT_EQ(probe.probe().find(0)->processes.size(), 1u);
}

TEST(SimulatedProbeTest, RefusesWhatDoesNotFitLikeAnOutOfMemoryError) {
  SimulatedProbe probe({24000});
  ASSERT_TRUE(probe.place("T_1", 0, 20000).is_ok());
  Status status = probe.place("T_2", 0, 5000);
  EXPECT_EQ(status.code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(status.message(),
            "out of memory: task T_2 asks 5000 MB on GPU 0, which has 4000 MB free");
  EXPECT_EQ(probe.probe().find(0)->used_mb, 20000);
}

TEST(SimulatedProbeTest, RejectsUnknownGpusAndNegativeAmounts) {
  SimulatedProbe probe({24000});
  EXPECT_EQ(probe.place("T_1", 1, 10).message(), "no simulated GPU 1 (there are 1)");
  EXPECT_EQ(probe.place("T_1", -1, 10).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(probe.place("T_1", 0, -5).message(), "task T_1 cannot hold -5 MB on GPU 0");
  EXPECT_FALSE(probe.set_broken(3, true).is_ok());
  EXPECT_FALSE(probe.set_utilisation(3, 1, 1).is_ok());
}

TEST(SimulatedProbeTest, BrokenGpuReportsItsErrorAndRecovers) {
  SimulatedProbe probe({24000, 24000});
  ASSERT_TRUE(probe.place("T_1", 1, 3000).is_ok());
  ASSERT_TRUE(probe.set_broken(1, true, "GPU is lost").is_ok());
  DeviceSnapshot snapshot = probe.probe();
  EXPECT_FALSE(gpu(snapshot, 0).broken);
  EXPECT_TRUE(gpu(snapshot, 1).broken);
  EXPECT_EQ(gpu(snapshot, 1).error, "GPU is lost");
  EXPECT_EQ(gpu(snapshot, 1).free_mb, 0);
  EXPECT_EQ(probe.place("T_2", 1, 10).message(), "GPU 1 is broken: GPU is lost");

  ASSERT_TRUE(probe.set_broken(1, false).is_ok());
  snapshot = probe.probe();
  EXPECT_FALSE(gpu(snapshot, 1).broken);
  EXPECT_EQ(gpu(snapshot, 1).error, "");
  EXPECT_EQ(gpu(snapshot, 1).used_mb, 3000);
}

TEST(SimulatedProbeTest, UtilisationIsSettable) {
  SimulatedProbe probe({24000});
  ASSERT_TRUE(probe.set_utilisation(0, 87, 40).is_ok());
  EXPECT_EQ(probe.probe().find(0)->gpu_util, 87);
  EXPECT_EQ(probe.probe().find(0)->memory_util, 40);
  EXPECT_EQ(probe.set_utilisation(0, 101, 0).message(),
            "utilisation of GPU 0 must be 0 to 100 percent, got 101 and 0");
}

TEST(SimulatedProbeTest, NoGpuMeansTheCpuOnly) {
  SimulatedProbe probe({});
  EXPECT_EQ(probe.probe().devices.size(), 1u);
  EXPECT_EQ(probe.notice(), "simulated GPUs, not real hardware: none (CPU only)");
}

}  // namespace
}  // namespace dlnest
