// kill -9 of a process in the middle of writing: every committed task is still there.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "state/state_store.h"
#include "state/state_test_util.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

// In a child: adds tasks T_0, T_1, ... forever, writing each index to `fd` once committed.
[[noreturn]] void add_tasks_forever(const std::string& dir, int fd) {
  Result<StateStore> store = StateStore::open(dir);
  if (!store.is_ok()) ::_exit(2);
  for (uint32_t i = 0;; ++i) {
    TaskRecord task = testing::pending_task("T_" + std::to_string(i));
    if (!store->add(task).is_ok()) ::_exit(3);
    if (i % 2 == 1 && !store->mark_running(task.id, 7, 8, {0}).is_ok()) ::_exit(4);
    if (::write(fd, &i, sizeof(i)) != sizeof(i)) ::_exit(5);
  }
}

TEST(StateCrashTest, EveryCommittedTaskSurvivesSigkill) {
  testing::TempDir dir;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    add_tasks_forever(dir.path(), fds[1]);
  }
  ::close(fds[1]);
  uint32_t committed = 0;
  for (int seen = 0; seen < 200; ++seen) {
    ASSERT_EQ(::read(fds[0], &committed, sizeof(committed)), ssize_t{sizeof(committed)});
  }
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the writer stopped early with status " << status;
  ::close(fds[0]);

  Result<StateStore> store = StateStore::open(dir.path());
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  for (uint32_t i = 0; i <= committed; ++i) {
    Result<TaskRecord> task = store->get("T_" + std::to_string(i));
    ASSERT_TRUE(task.is_ok()) << task.status().to_string();
    EXPECT_EQ(task->state, i % 2 == 1 ? TaskState::kRunning : TaskState::kPending) << task->id;
  }
  Result<SqliteDb> raw = SqliteDb::open(dir.path() + "/state.db");
  Result<SqliteStatement> check = raw->prepare("PRAGMA integrity_check");
  ASSERT_TRUE(check.is_ok() && *check->step());
  EXPECT_EQ(check->column_text(0), "ok");
  EXPECT_TRUE(store->add(testing::pending_task("T_after")).is_ok());
}

}  // namespace
}  // namespace dlnest
