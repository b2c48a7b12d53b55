// The memory sampler over simulated GPUs (whose processes are the tasks' holdings), the fake task
// runner's pids and a real state database and package folder.
#include "server/memory_sampler.h"

#include <gtest/gtest.h>

#include "devices/simulated_probe.h"
#include "dlnest/env.h"
#include "server/fake_task_runner.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using testing::FakeMachine;
using testing::FakeTaskRunner;
using testing::TempDir;

class MemorySamplerTest : public ::testing::Test {
 protected:
  MemorySamplerTest()
      : store_(StateStore::open(dir_.file("state")).value()),
        probe_({24000, 24000}),
        runner_(&machine_, 1),
        sampler_(&store_, &probe_, &runner_, &log_, 60) {}

  /// A running task `id` of `type` with one process; returns its pid.
  int start(const std::string& id, TaskType type = TaskType::kTrain, bool cpu = false) {
    TaskRecord task;
    task.id = id;
    task.type = type;
    task.cpu = cpu;
    task.package_dir = dir_.file(id);
    EXPECT_TRUE(Env::default_env()->create_dirs(task.package_dir).is_ok());
    EXPECT_TRUE(store_.add(task).is_ok());
    const int pid = runner_.spawn(id, SpawnSpec{}).value().pid;
    EXPECT_TRUE(store_.mark_running(id, pid, 1, {cpu ? kCpuDevice : 0}).is_ok());
    return pid;
  }

  Json package_record(const std::string& id) {
    Result<std::string> text =
        Env::default_env()->read_file(dir_.file(id + "/" + kPackageMemoryFile));
    return text.is_ok() ? Json::parse(*text) : Json();
  }

  TempDir dir_;
  StateStore store_;
  SimulatedProbe probe_;
  FakeMachine machine_;
  FakeTaskRunner runner_;
  MessageLog log_;
  MemorySampler sampler_;
};

TEST_F(MemorySamplerTest, KeepsThePeakOfEachTaskSummedOverItsGpus) {
  const int a = start("T_1");
  const int b = start("T_2");
  ASSERT_TRUE(probe_.place("T_1", 0, 700, a).is_ok());
  ASSERT_TRUE(probe_.place("T_1", 1, 500, a).is_ok());
  ASSERT_TRUE(probe_.place("T_2", 0, 300, b).is_ok());
  sampler_.sample_once();
  EXPECT_EQ(store_.get("T_1")->peak_memory_mb, 1200);
  EXPECT_EQ(store_.get("T_2")->peak_memory_mb, 300);
  Json record = package_record("T_1");
  EXPECT_EQ(record.value("peak_memory_mb", 0), 1200);
  EXPECT_EQ(record.value("task_ID", ""), "T_1");
  EXPECT_EQ(record.value("status", ""), "Running");

  // Less now: the peak stays; more: it rises, in the package too.
  probe_.remove("T_1");
  ASSERT_TRUE(probe_.place("T_1", 0, 100, a).is_ok());
  sampler_.sample_once();
  EXPECT_EQ(store_.get("T_1")->peak_memory_mb, 1200);
  ASSERT_TRUE(probe_.place("T_1", 1, 2000, a).is_ok());
  sampler_.sample_once();
  EXPECT_EQ(store_.get("T_1")->peak_memory_mb, 2100);
  EXPECT_EQ(package_record("T_1").value("peak_memory_mb", 0), 2100);
}

TEST_F(MemorySamplerTest, AnalysisTasksKeepTheirPeakOutOfThePackageAndCpuTasksAreSkipped) {
  const int a = start("A_1", TaskType::kAnalyze);
  const int c = start("T_3", TaskType::kTrain, /*cpu=*/true);
  ASSERT_TRUE(probe_.place("A_1", 0, 400, a).is_ok());
  ASSERT_TRUE(probe_.place("T_3", 1, 400, c).is_ok());  // not a process of a GPU task
  sampler_.sample_once();
  EXPECT_EQ(store_.get("A_1")->peak_memory_mb, 400);
  EXPECT_TRUE(package_record("A_1").is_null());
  EXPECT_EQ(store_.get("T_3")->peak_memory_mb, 0);
}

TEST_F(MemorySamplerTest, TheEndOfATaskIsWrittenToItsPackage) {
  const int a = start("T_1");
  ASSERT_TRUE(probe_.place("T_1", 0, 900, a).is_ok());
  sampler_.sample_once();
  ASSERT_TRUE(store_.mark_ended("T_1", TaskState::kFinished, 0).is_ok());
  ASSERT_TRUE(write_package_memory(&store_, "T_1").is_ok());
  Json record = package_record("T_1");
  EXPECT_EQ(record.value("status", ""), "Finished");
  EXPECT_EQ(record.value("peak_memory_mb", 0), 900);
  // A task without a peak leaves no record.
  start("T_2");
  ASSERT_TRUE(write_package_memory(&store_, "T_2").is_ok());
  EXPECT_TRUE(package_record("T_2").is_null());
}

}  // namespace
}  // namespace dlnest
