#include "server/task_end.h"

#include <gtest/gtest.h>

namespace dlnest {
namespace {

TaskRecord in(TaskState state, int restarts = 0, int max_restarts = 0) {
  TaskRecord t;
  t.id = "T_1";
  t.state = state;
  t.restarts = restarts;
  t.max_restarts = max_restarts;
  return t;
}

ExitInfo code(int c) {
  ExitInfo e;
  e.exit_code = c;
  return e;
}

TEST(TaskEndTest, AWorkerExitingZeroFinishes) {
  TaskEnd end = decide_end(in(TaskState::kRunning), code(0), "");
  EXPECT_EQ(end.kind, TaskEnd::Kind::kEnd);
  EXPECT_EQ(end.state, TaskState::kFinished);
  EXPECT_FALSE(end.restart);
}

TEST(TaskEndTest, AFailureRestartsOnlyWhileRestartsRemain) {
  TaskEnd end = decide_end(in(TaskState::kRunning, 0, 2), code(1), "");
  EXPECT_EQ(end.state, TaskState::kFailed);
  EXPECT_EQ(end.error, "exited with code 1");
  EXPECT_TRUE(end.restart);
  EXPECT_FALSE(decide_end(in(TaskState::kRunning, 2, 2), code(1), "").restart);
  EXPECT_FALSE(decide_end(in(TaskState::kRunning), code(1), "").restart);
}

TEST(TaskEndTest, ADeleteAlwaysEndsKilledAndNeverRestarts) {
  TaskRecord t = in(TaskState::kRunning, 0, 5);
  t.delete_requested = true;
  for (int c : {0, 1, 130, kExitNeverStarted}) {
    TaskEnd end = decide_end(t, code(c), "");
    EXPECT_EQ(end.kind, TaskEnd::Kind::kEnd) << c;
    EXPECT_EQ(end.state, TaskState::kKilled) << c;
    EXPECT_FALSE(end.restart) << c;
  }
  ExitInfo terminated = code(130);
  terminated.terminated = true;
  terminated.detail = "ended by SIGINT";
  TaskEnd end = decide_end(in(TaskState::kRunning, 0, 5), terminated, "");
  EXPECT_EQ(end.state, TaskState::kKilled);
  EXPECT_EQ(end.error, "deleted (ended by SIGINT)");
  const std::string stopped =
      "[dlnest] interrupted (SIGINT) at epoch 2, step 5 of 6: saved interrupt checkpoint 7 "
      "(Checkpoints/state_7.ckpt); dlnest continue -r /p resumes there\n";
  EXPECT_EQ(decide_end(in(TaskState::kRunning, 0, 5), terminated, failure_reason(stopped)).error,
            "deleted (ended by SIGINT): " + stopped.substr(9, stopped.size() - 10));
}

TEST(TaskEndTest, AProcessThatNeverStartedGoesBackToTheQueue) {
  for (TaskState s : {TaskState::kRunning, TaskState::kBuilding}) {
    TaskEnd end = decide_end(in(s, 0, 0), code(kExitNeverStarted), "");
    EXPECT_EQ(end.kind, TaskEnd::Kind::kRequeue);
    EXPECT_FALSE(end.built);
  }
}

TEST(TaskEndTest, ABuildThatSucceedsQueuesTheTaskBuilt) {
  TaskEnd end = decide_end(in(TaskState::kBuilding), code(0), "");
  EXPECT_EQ(end.kind, TaskEnd::Kind::kRequeue);
  EXPECT_TRUE(end.built);
}

TEST(TaskEndTest, AFailedBuildFailsWithTheCompilersFirstErrorAndIsNotRestarted) {
  TaskEnd end = decide_end(in(TaskState::kBuilding, 0, 3), code(1), "a.cpp:3:1: error: x");
  EXPECT_EQ(end.state, TaskState::kFailed);
  EXPECT_EQ(end.error, "build failed: a.cpp:3:1: error: x");
  EXPECT_FALSE(end.restart);
  EXPECT_EQ(decide_end(in(TaskState::kBuilding), code(1), "").error,
            "build failed: exited with code 1");
}

TEST(TaskEndTest, AFailureSaysWhyOnceAndHowItExitedOnce) {
  // As the supervisor reports an exit: the code and the same words in its detail.
  ExitInfo exit = code(1);
  exit.detail = "exited with code 1";
  EXPECT_EQ(decide_end(in(TaskState::kRunning), exit, "").error, "exited with code 1");
  const std::string output =
      "[dlnest] train /p on cpu\nepoch 0 loss 1.5\n"
      "[dlnest] error: stage OneEpoch (epoch 1, iter 3): loss is NaN\n";
  EXPECT_EQ(failure_reason(output), "stage OneEpoch (epoch 1, iter 3): loss is NaN");
  EXPECT_EQ(decide_end(in(TaskState::kRunning), exit, failure_reason(output)).error,
            "stage OneEpoch (epoch 1, iter 3): loss is NaN (exited with code 1)");
  EXPECT_EQ(failure_reason("dlnest-worker: error: no plugin in /p\n"), "no plugin in /p");
  EXPECT_EQ(failure_reason("[dlnest] error: first\nmore\n[dlnest] error: last"), "last");
  EXPECT_EQ(failure_reason("all went well\n[dlnest] finished\n"), "");
}

TEST(TaskEndTest, AnExitFoundAfterARestartSaysSo) {
  EXPECT_EQ(exit_found_after_restart(0).detail, "ended while no server was running");
  EXPECT_EQ(exit_found_after_restart(std::nullopt).exit_code, std::nullopt);
  EXPECT_EQ(decide_end(in(TaskState::kRunning), exit_found_after_restart(std::nullopt), "").state,
            TaskState::kFailed);
}

}  // namespace
}  // namespace dlnest
