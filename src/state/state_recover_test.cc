// recover(): what a restarted server does with the tasks that were Running.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>

#include "state/process_probe.h"
#include "state/state_store.h"
#include "state/state_test_util.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using testing::pending_task;

class RecoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<StateStore> store = StateStore::open(dir_.path(), testing::fake_clock(&now_));
    ASSERT_TRUE(store.is_ok()) << store.status().to_string();
    store_.emplace(std::move(*store));
  }

  // Adds task `id`, allowing `max_restarts`, and marks it running as `pid` started at `ticks`.
  void add_running(const std::string& id, int pid, uint64_t ticks, int max_restarts = 0) {
    TaskRecord task = pending_task(id);
    task.max_restarts = max_restarts;
    ASSERT_TRUE(store_->add(task).is_ok());
    ASSERT_TRUE(store_->mark_running(id, pid, ticks, {0}).is_ok());
  }

  // A probe that knows the processes in `alive` (pid -> start ticks).
  static ProcessProbe fake_probe(std::map<int, uint64_t> alive) {
    return [alive](int pid) -> std::optional<uint64_t> {
      auto it = alive.find(pid);
      if (it == alive.end()) return std::nullopt;
      return it->second;
    };
  }

  testing::TempDir dir_;
  double now_ = 500;
  std::optional<StateStore> store_;
};

TEST_F(RecoverTest, AdoptsALiveProcessWithTheSameStartTime) {
  add_running("T_1", 100, 5);
  Result<RecoveryReport> report = store_->recover(fake_probe({{100, 5}}));
  ASSERT_TRUE(report.is_ok());
  EXPECT_EQ(report->adopted, std::vector<std::string>{"T_1"});
  EXPECT_TRUE(report->failed.empty());
  EXPECT_EQ(store_->get("T_1")->state, TaskState::kRunning);
}

TEST_F(RecoverTest, APidReusedByAnotherProcessFailsTheTask) {
  add_running("T_1", 100, 5);
  now_ = 900;
  Result<RecoveryReport> report = store_->recover(fake_probe({{100, 6}}));
  EXPECT_EQ(report->failed, std::vector<std::string>{"T_1"});
  Result<TaskRecord> task = store_->get("T_1");
  EXPECT_EQ(task->state, TaskState::kFailed);
  EXPECT_EQ(task->end_time, 900);
  EXPECT_EQ(task->error, "the server restarted and process 100 now belongs to another program");
}

TEST_F(RecoverTest, ADeadProcessFailsTheTask) {
  add_running("T_1", 100, 5);
  Result<RecoveryReport> report = store_->recover(fake_probe({}));
  EXPECT_EQ(report->failed, std::vector<std::string>{"T_1"});
  EXPECT_TRUE(report->to_restart.empty());
  EXPECT_EQ(store_->get("T_1")->error, "the server restarted and process 100 was gone");
}

TEST_F(RecoverTest, ReturnsFailedTasksWithRestartsLeft) {
  add_running("T_keep", 1, 1);
  add_running("T_again", 2, 2, /*max_restarts=*/2);
  add_running("T_alive", 3, 3, /*max_restarts=*/2);
  ASSERT_TRUE(store_->add(pending_task("T_queued")).is_ok());
  Result<RecoveryReport> report = store_->recover(fake_probe({{3, 3}}));
  EXPECT_EQ(report->adopted, std::vector<std::string>{"T_alive"});
  EXPECT_EQ(report->failed, (std::vector<std::string>{"T_keep", "T_again"}));
  EXPECT_EQ(report->to_restart, std::vector<std::string>{"T_again"});
  EXPECT_EQ(store_->get("T_queued")->state, TaskState::kPending);

  ASSERT_TRUE(store_->bump_restarts("T_again").is_ok());
  ASSERT_TRUE(store_->mark_running("T_again", 4, 4, {0}).is_ok());
  EXPECT_EQ(store_->bump_restarts("T_again").code(), Status::Code::kFailedPrecondition);
  ASSERT_TRUE(store_->update_state("T_again", TaskState::kFailed).is_ok());
  ASSERT_TRUE(store_->bump_restarts("T_again").is_ok());  // the second of two
  ASSERT_TRUE(store_->mark_running("T_again", 5, 5, {0}).is_ok());
  report = store_->recover(fake_probe({}));  // T_again has none left; T_alive has two
  EXPECT_EQ(report->failed, (std::vector<std::string>{"T_again", "T_alive"}));
  EXPECT_EQ(report->to_restart, std::vector<std::string>{"T_alive"});
}

TEST_F(RecoverTest, RealProbeAdoptsALiveChildAndFailsItOnceReaped) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  const std::optional<uint64_t> ticks = process_start_ticks(child);
  ASSERT_TRUE(ticks.has_value());
  add_running("T_1", child, *ticks);
  add_running("T_2", child, *ticks + 1);  // the same pid, another start: not ours
  Result<RecoveryReport> report = store_->recover(&process_start_ticks);
  EXPECT_EQ(report->adopted, std::vector<std::string>{"T_1"});
  EXPECT_EQ(report->failed, std::vector<std::string>{"T_2"});

  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  report = store_->recover(&process_start_ticks);
  EXPECT_EQ(report->failed, std::vector<std::string>{"T_1"});
}

}  // namespace
}  // namespace dlnest
