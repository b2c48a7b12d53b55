#include "state/state_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <regex>
#include <set>
#include <thread>

#include "state/state_test_util.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using testing::pending_task;

class StateStoreTest : public ::testing::Test {
 protected:
  StateStore open_store() {
    Result<StateStore> store = StateStore::open(dir_.file("state"), testing::fake_clock(&now_));
    if (!store.is_ok()) throw std::runtime_error(store.status().to_string());
    return std::move(*store);
  }

  testing::TempDir dir_;
  double now_ = 1000;
};

TEST_F(StateStoreTest, OpenCreatesAPrivateFolderAndAWalDatabase) {
  const std::string state_dir = dir_.file("a/b/state");
  ASSERT_TRUE(StateStore::open(state_dir).is_ok());
  struct stat info {};
  ASSERT_EQ(::stat(state_dir.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
  Result<SqliteDb> raw = SqliteDb::open(state_dir + "/state.db");
  ASSERT_TRUE(raw.is_ok());
  Result<SqliteStatement> mode = raw->prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.is_ok());
  ASSERT_TRUE(*mode->step());
  EXPECT_EQ(mode->column_text(0), "wal");
}

TEST_F(StateStoreTest, EveryDescriptorIsCloseOnExec) {
  StateStore store = open_store();
  ASSERT_TRUE(store.add(pending_task("T_1")).is_ok());
  ASSERT_TRUE(store.list_all().is_ok());
  int checked = 0;
  DIR* fds = ::opendir("/proc/self/fd");
  ASSERT_NE(fds, nullptr);
  while (dirent* entry = ::readdir(fds)) {
    const std::string link = "/proc/self/fd/" + std::string(entry->d_name);
    char target[4096];
    const ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
    if (n <= 0 || std::string(target, n).rfind(dir_.path(), 0) != 0) continue;
    const int flags = ::fcntl(std::stoi(entry->d_name), F_GETFD);
    EXPECT_TRUE(flags & FD_CLOEXEC) << std::string(target, n);
    ++checked;
  }
  ::closedir(fds);
  EXPECT_GE(checked, 3);  // state.db, state.db-wal, state.db-shm
}

TEST_F(StateStoreTest, RefusesANewerSchema) {
  open_store();
  Result<SqliteDb> raw = SqliteDb::open(dir_.file("state/state.db"));
  ASSERT_TRUE(raw->exec("UPDATE schema_version SET version = 99").is_ok());
  Result<StateStore> store = StateStore::open(dir_.file("state"));
  EXPECT_EQ(store.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("schema version 99"), std::string::npos);
}

TEST_F(StateStoreTest, MigratesAVersion1Database) {
  {
    // The tasks table of version 1, one task in it.
    Result<SqliteDb> raw = SqliteDb::open(dir_.file("state.db"));
    ASSERT_TRUE(raw.is_ok());
    ASSERT_TRUE(raw->exec(R"sql(
      CREATE TABLE schema_version (version INTEGER NOT NULL);
      INSERT INTO schema_version VALUES (1);
      CREATE TABLE tasks (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
        state TEXT NOT NULL, args TEXT NOT NULL, package_dir TEXT NOT NULL,
        script_path TEXT NOT NULL, description TEXT NOT NULL, memory_mb INTEGER NOT NULL,
        cpu INTEGER NOT NULL, multi_gpu INTEGER NOT NULL, ddp INTEGER NOT NULL,
        load_ckpt INTEGER NOT NULL, checkpoint_id INTEGER NOT NULL, devices TEXT NOT NULL,
        submit_time REAL NOT NULL, start_time REAL NOT NULL, end_time REAL NOT NULL,
        exit_code INTEGER, pid INTEGER NOT NULL, pid_start_ticks INTEGER NOT NULL,
        restarts INTEGER NOT NULL, max_restarts INTEGER NOT NULL, error TEXT NOT NULL);
      CREATE INDEX tasks_by_state ON tasks (state, seq);
      CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
      INSERT INTO counters VALUES ('task_id', 1);
      INSERT INTO tasks (id, type, state, args, package_dir, script_path, description,
        memory_mb, cpu, multi_gpu, ddp, load_ckpt, checkpoint_id, devices, submit_time,
        start_time, end_time, exit_code, pid, pid_start_ticks, restarts, max_restarts, error)
      VALUES ('T_1', 'Train', 'Pending', '{}', '/p', '', '', -1, 1, 1, 1, 0, -1, '[]', 5, 0, 0,
        NULL, 0, 0, 0, 0, '');
    )sql")
                    .is_ok());
  }
  Result<StateStore> store = StateStore::open(dir_.path());
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  Result<TaskRecord> task = store->get("T_1");
  ASSERT_TRUE(task.is_ok()) << task.status().to_string();
  EXPECT_TRUE(task->ddp);
  EXPECT_EQ(task->nproc, 0);
  EXPECT_EQ(task->project_dir, "");  // version 3's columns
  EXPECT_FALSE(task->needs_build);
  EXPECT_FALSE(task->delete_requested);
  EXPECT_EQ(task->peak_memory_mb, 0);  // version 4's columns
  EXPECT_EQ(task->memory_source, "");
  EXPECT_EQ(task->config_digest, "");
  ASSERT_TRUE(store->add(pending_task("T_2")).is_ok());
  Result<SqliteDb> raw = SqliteDb::open(dir_.file("state.db"));
  Result<SqliteStatement> version = raw->prepare("SELECT version FROM schema_version");
  ASSERT_TRUE(*version->step());
  EXPECT_EQ(version->column_int64(0), kStateSchemaVersion);
}

TEST_F(StateStoreTest, RoundTripsEveryField) {
  StateStore store = open_store();
  TaskRecord task = pending_task("A_7240.3831_7");
  task.type = TaskType::kAnalyze;
  task.args = Json{{"model_config", {{"feats", {32, 64}}}}, {"name", "ünïcode"}};
  task.package_dir = "/p/Saves/x";
  task.script_path = "/p/AnalyzeScripts";
  task.description = "it's \"quoted\"";
  task.memory_mb = 5000;
  task.cpu = true;
  task.multi_gpu = true;
  task.ddp = true;
  task.nproc = 4;
  task.load_ckpt = true;
  task.checkpoint_id = 7;
  task.restarts = 1;
  task.max_restarts = 3;
  task.project_dir = "/p";
  task.needs_build = true;
  task.peak_memory_mb = 3120;
  task.memory_source = "auto: peak 3000 MB of T_1 x1.2";
  task.config_digest = "0123456789abcdef";
  ASSERT_TRUE(store.add(task).is_ok());
  EXPECT_EQ(*store.get(task.id), task);

  now_ = 2000;
  ASSERT_TRUE(store.mark_running(task.id, 4321, 99887766554433ull, {1, 3}).is_ok());
  now_ = 3000;
  ASSERT_TRUE(store.mark_ended(task.id, TaskState::kFailed, -9, "killed by signal 9").is_ok());
  task.state = TaskState::kFailed;
  task.pid = 4321;
  task.pid_start_ticks = 99887766554433ull;
  task.devices = {1, 3};
  task.start_time = 2000;
  task.end_time = 3000;
  task.exit_code = -9;
  task.error = "killed by signal 9";
  EXPECT_EQ(*store.get(task.id), task);
}

TEST_F(StateStoreTest, TasksSurviveCloseAndReopen) {
  {
    StateStore store = open_store();
    ASSERT_TRUE(store.add(pending_task("T_1")).is_ok());
    ASSERT_TRUE(store.add(pending_task("T_2")).is_ok());
    ASSERT_TRUE(store.mark_running("T_2", 10, 20, {0}).is_ok());
  }
  StateStore store = open_store();
  Result<std::vector<TaskRecord>> all = store.list_all();
  ASSERT_TRUE(all.is_ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].state, TaskState::kPending);
  EXPECT_EQ((*all)[1].state, TaskState::kRunning);
  EXPECT_EQ((*all)[1].pid, 10);
}

TEST_F(StateStoreTest, AddRejectsDuplicatesAndNonPendingTasks) {
  StateStore store = open_store();
  ASSERT_TRUE(store.add(pending_task("T_1")).is_ok());
  Status dup = store.add(pending_task("T_1"));
  EXPECT_EQ(dup.code(), Status::Code::kAlreadyExists);
  EXPECT_EQ(dup.message(), "task T_1 already exists");
  TaskRecord running = pending_task("T_2");
  running.state = TaskState::kRunning;
  EXPECT_EQ(store.add(running).code(), Status::Code::kInvalidArgument);
}

TEST_F(StateStoreTest, NewIdsAreUniqueAndLookLikeTheOriginal) {
  StateStore store = open_store();
  now_ = 1763837235.26951;
  ASSERT_TRUE(store.add(pending_task("T_7235.2695_2")).is_ok());  // the id the counter gives next
  std::set<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    Result<std::string> id = store.add_with_new_id(pending_task(""));
    ASSERT_TRUE(id.is_ok()) << id.status().to_string();
    EXPECT_TRUE(std::regex_match(*id, std::regex(R"(T_\d{1,4}\.\d{4}_\d+)"))) << *id;
    ids.insert(*id);
  }
  EXPECT_EQ(ids, (std::set<std::string>{"T_7235.2695_1", "T_7235.2695_3", "T_7235.2695_4"}));
  TaskRecord analyze = pending_task("");
  analyze.type = TaskType::kAnalyze;
  EXPECT_EQ(*store.add_with_new_id(analyze), "A_7235.2695_5");
}

TEST_F(StateStoreTest, UnknownIdsAreNamed) {
  StateStore store = open_store();
  EXPECT_EQ(store.get("T_9").status().message(), "no task with id 'T_9'");
  EXPECT_EQ(store.update_state("T_9", TaskState::kKilled).code(), Status::Code::kNotFound);
  EXPECT_EQ(store.mark_running("T_9", 1, 1, {}).code(), Status::Code::kNotFound);
  EXPECT_EQ(store.mark_ended("T_9", TaskState::kFailed, 1).code(), Status::Code::kNotFound);
  EXPECT_EQ(store.bump_restarts("T_9").code(), Status::Code::kNotFound);
  EXPECT_EQ(store.remove("T_9").code(), Status::Code::kNotFound);
}

TEST_F(StateStoreTest, IllegalTransitionsNameBothStates) {
  StateStore store = open_store();
  ASSERT_TRUE(store.add(pending_task("T_1")).is_ok());
  Status early = store.mark_ended("T_1", TaskState::kFinished, 0);
  EXPECT_EQ(early.code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(early.message(), "task T_1 cannot go from Pending to Finished");
  ASSERT_TRUE(store.mark_running("T_1", 5, 6, {0}).is_ok());
  ASSERT_TRUE(store.mark_ended("T_1", TaskState::kFinished, 0).is_ok());
  EXPECT_EQ(store.update_state("T_1", TaskState::kRunning).message(),
            "task T_1 cannot go from Finished to Running");
  EXPECT_EQ(store.bump_restarts("T_1").message(), "task T_1 cannot go from Finished to Pending");
  EXPECT_EQ(store.mark_ended("T_1", TaskState::kPending, 0).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(store.get("T_1")->state, TaskState::kFinished);  // nothing changed
}

TEST_F(StateStoreTest, TheBuildStageGoesBuildingThenPendingThenRunning) {
  StateStore store = open_store();
  TaskRecord task = pending_task("T_1");
  task.needs_build = true;
  task.project_dir = "/p";
  ASSERT_TRUE(store.add(task).is_ok());
  ASSERT_TRUE(store.mark_building("T_1", 11, 12).is_ok());
  EXPECT_EQ(store.get("T_1")->state, TaskState::kBuilding);
  EXPECT_EQ(store.get("T_1")->pid, 11);
  ASSERT_TRUE(store.requeue("T_1", /*built=*/true).is_ok());
  Result<TaskRecord> built = store.get("T_1");
  EXPECT_EQ(built->state, TaskState::kPending);
  EXPECT_FALSE(built->needs_build);
  EXPECT_EQ(built->pid, 0);
  EXPECT_EQ(built->restarts, 0);
  ASSERT_TRUE(store.mark_running("T_1", 13, 14, {-1}).is_ok());
  // A worker that never started: back to the queue, not a restart.
  ASSERT_TRUE(store.requeue("T_1", /*built=*/false).is_ok());
  EXPECT_EQ(store.get("T_1")->state, TaskState::kPending);
  EXPECT_EQ(store.get("T_1")->devices, std::vector<int>{});
  EXPECT_EQ(store.requeue("T_1", false).message(), "task T_1 is Pending, not building or running");
}

TEST_F(StateStoreTest, ADeleteIsRecordedBeforeTheTaskEnds) {
  StateStore store = open_store();
  ASSERT_TRUE(store.add(pending_task("T_1")).is_ok());
  ASSERT_TRUE(store.add(pending_task("T_2")).is_ok());
  EXPECT_EQ(*store.request_delete("T_1"), TaskState::kPending);
  EXPECT_EQ(store.get("T_1")->state, TaskState::kKilled);
  EXPECT_EQ(store.get("T_1")->error, "deleted while pending");
  ASSERT_TRUE(store.mark_running("T_2", 5, 6, {-1}).is_ok());
  EXPECT_EQ(*store.request_delete("T_2"), TaskState::kRunning);
  EXPECT_EQ(store.get("T_2")->state, TaskState::kRunning);
  EXPECT_TRUE(store.get("T_2")->delete_requested);
  EXPECT_EQ(store.request_delete("T_1").status().message(), "task T_1 has already ended (Killed)");
  EXPECT_EQ(store.request_delete("T_9").status().code(), Status::Code::kNotFound);
  // A killed task cannot be started afterwards: the dispatcher gives such a start up.
  EXPECT_EQ(store.mark_running("T_1", 7, 8, {-1}).code(), Status::Code::kFailedPrecondition);
}

TEST_F(StateStoreTest, KilledBeforeStartingHasNoExitCode) {
  StateStore store = open_store();
  ASSERT_TRUE(store.add(pending_task("T_1")).is_ok());
  ASSERT_TRUE(store.mark_ended("T_1", TaskState::kKilled, std::nullopt, "deleted").is_ok());
  Result<TaskRecord> task = store.get("T_1");
  EXPECT_EQ(task->state, TaskState::kKilled);
  EXPECT_FALSE(task->exit_code.has_value());
  EXPECT_EQ(task->error, "deleted");
}

TEST_F(StateStoreTest, ListsByStateInSubmissionOrder) {
  StateStore store = open_store();
  for (const char* id : {"T_c", "T_a", "T_b", "T_d"})
    ASSERT_TRUE(store.add(pending_task(id)).is_ok());
  ASSERT_TRUE(store.mark_running("T_a", 1, 1, {0}).is_ok());
  Result<std::vector<TaskRecord>> pending = store.list(TaskState::kPending);
  ASSERT_TRUE(pending.is_ok());
  std::vector<std::string> ids;
  for (const TaskRecord& t : *pending) ids.push_back(t.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"T_c", "T_b", "T_d"}));
  EXPECT_EQ(store.list(TaskState::kRunning)->size(), 1u);
  EXPECT_TRUE(store.list(TaskState::kKilled)->empty());
  EXPECT_EQ(store.list_all()->front().id, "T_c");
}

TEST_F(StateStoreTest, ListEndedGivesTheLastEndedOldestFirst) {
  StateStore store = open_store();
  for (const char* id : {"T_1", "T_2", "T_3", "T_4", "T_5"})
    ASSERT_TRUE(store.add(pending_task(id)).is_ok());
  // End in the order 3, 1, 5, 2 (T_4 stays pending), with distinct end times.
  ASSERT_TRUE(store.mark_running("T_3", 1, 1, {0}).is_ok());
  now_ = 1001;
  ASSERT_TRUE(store.mark_ended("T_3", TaskState::kFinished, 0).is_ok());
  now_ = 1002;
  ASSERT_TRUE(store.mark_ended("T_1", TaskState::kKilled, std::nullopt).is_ok());
  ASSERT_TRUE(store.mark_running("T_5", 2, 2, {0}).is_ok());
  now_ = 1003;
  ASSERT_TRUE(store.mark_ended("T_5", TaskState::kFailed, 1).is_ok());
  now_ = 1004;
  ASSERT_TRUE(store.mark_ended("T_2", TaskState::kKilled, std::nullopt).is_ok());
  auto ids = [](const std::vector<TaskRecord>& tasks) {
    std::vector<std::string> out;
    for (const TaskRecord& t : tasks) out.push_back(t.id);
    return out;
  };
  EXPECT_EQ(ids(*store.list_ended(100)), (std::vector<std::string>{"T_3", "T_1", "T_5", "T_2"}));
  EXPECT_EQ(ids(*store.list_ended(2)), (std::vector<std::string>{"T_5", "T_2"}));
  EXPECT_TRUE(store.list_ended(0)->empty());
}

TEST_F(StateStoreTest, BumpRestartsRequeuesAFailedTaskWithinItsLimit) {
  StateStore store = open_store();
  TaskRecord task = pending_task("T_1");
  task.max_restarts = 1;
  ASSERT_TRUE(store.add(task).is_ok());
  ASSERT_TRUE(store.mark_running("T_1", 5, 6, {2}).is_ok());
  ASSERT_TRUE(store.mark_ended("T_1", TaskState::kFailed, 1, "oom").is_ok());
  ASSERT_TRUE(store.bump_restarts("T_1").is_ok());
  Result<TaskRecord> again = store.get("T_1");
  EXPECT_EQ(again->state, TaskState::kPending);
  EXPECT_EQ(again->restarts, 1);
  EXPECT_EQ(again->pid, 0);
  EXPECT_TRUE(again->devices.empty());
  EXPECT_FALSE(again->exit_code.has_value());
  EXPECT_EQ(again->error, "oom");  // the last failure stays visible
  ASSERT_TRUE(store.mark_running("T_1", 7, 8, {2}).is_ok());
  ASSERT_TRUE(store.mark_ended("T_1", TaskState::kFailed, 1).is_ok());
  EXPECT_EQ(store.bump_restarts("T_1").message(), "task T_1 has used all its 1 restarts");
}

TEST_F(StateStoreTest, RemoveAndClearFinishedKeepLiveTasks) {
  StateStore store = open_store();
  for (const char* id : {"T_1", "T_2", "T_3", "T_4", "T_5"}) {
    ASSERT_TRUE(store.add(pending_task(id)).is_ok());
  }
  ASSERT_TRUE(store.mark_running("T_2", 1, 1, {0}).is_ok());
  ASSERT_TRUE(store.mark_running("T_3", 1, 1, {0}).is_ok());
  ASSERT_TRUE(store.mark_ended("T_3", TaskState::kFinished, 0).is_ok());
  ASSERT_TRUE(store.mark_ended("T_4", TaskState::kKilled, std::nullopt).is_ok());
  EXPECT_EQ(store.remove("T_2").message(), "task T_2 is Running; end it before deleting it");
  ASSERT_TRUE(store.remove("T_5").is_ok());
  EXPECT_EQ(store.get("T_5").status().code(), Status::Code::kNotFound);
  EXPECT_EQ(*store.clear_finished(), 2);
  Result<std::vector<TaskRecord>> left = store.list_all();
  ASSERT_TRUE(left.is_ok());
  std::vector<std::string> ids;
  for (const TaskRecord& t : *left) ids.push_back(t.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"T_1", "T_2"}));
}

TEST_F(StateStoreTest, ConcurrentWritersLoseNoUpdate) {
  StateStore first = open_store();
  StateStore second = open_store();
  TaskRecord shared = pending_task("T_shared");
  shared.max_restarts = 1000000;
  ASSERT_TRUE(first.add(shared).is_ok());
  ASSERT_TRUE(first.update_state("T_shared", TaskState::kFailed).is_ok());
  constexpr int kThreads = 4, kTasksEach = 100;
  std::vector<int> bumps(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      StateStore& store = t % 2 == 0 ? first : second;
      for (int i = 0; i < kTasksEach; ++i) {
        EXPECT_TRUE(store.add_with_new_id(pending_task("")).is_ok());
        if (store.bump_restarts("T_shared").is_ok()) ++bumps[t];
        store.update_state("T_shared", TaskState::kFailed);  // may lose the race: that is fine
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  int total_bumps = 0;
  for (int b : bumps) total_bumps += b;
  EXPECT_GT(total_bumps, 0);
  EXPECT_EQ(second.get("T_shared")->restarts, total_bumps);
  Result<std::vector<TaskRecord>> all = first.list_all();
  ASSERT_TRUE(all.is_ok());
  std::set<std::string> ids;
  for (const TaskRecord& t : *all) ids.insert(t.id);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kThreads * kTasksEach + 1));
}

TEST_F(StateStoreTest, ThePeakMemoryOnlyRisesAndSurvivesARestart) {
  StateStore store = open_store();
  TaskRecord task = pending_task("T_1");
  task.max_restarts = 1;
  ASSERT_TRUE(store.add(task).is_ok());
  ASSERT_TRUE(store.mark_running("T_1", 10, 20, {0}).is_ok());
  EXPECT_TRUE(*store.raise_peak_memory("T_1", 700));
  EXPECT_FALSE(*store.raise_peak_memory("T_1", 500));
  EXPECT_FALSE(*store.raise_peak_memory("T_1", 700));
  EXPECT_TRUE(*store.raise_peak_memory("T_1", 900));
  EXPECT_EQ(store.get("T_1")->peak_memory_mb, 900);
  ASSERT_TRUE(store.mark_ended("T_1", TaskState::kFailed, 1, "crash").is_ok());
  ASSERT_TRUE(store.bump_restarts("T_1").is_ok());
  EXPECT_EQ(store.get("T_1")->peak_memory_mb, 900);
  EXPECT_EQ(store.raise_peak_memory("T_9", 1).status().code(), Status::Code::kNotFound);
}

TEST_F(StateStoreTest, LastPeakPrefersEndedTasksThenTheLastSubmitted) {
  StateStore store = open_store();
  EXPECT_FALSE(store.last_peak("k")->has_value());
  for (const char* id : {"T_1", "T_2", "T_3", "T_4", "T_5"}) {
    TaskRecord task = pending_task(id);
    task.config_digest = std::string(id) == "T_5" ? "other" : "k";
    ASSERT_TRUE(store.add(task).is_ok());
    ASSERT_TRUE(store.mark_running(id, 10, 20, {0}).is_ok());
  }
  // T_1 and T_2 ended with peaks, T_3 runs with a peak so far, T_4 has none, T_5 is another config.
  ASSERT_TRUE(store.raise_peak_memory("T_1", 1000).is_ok());
  ASSERT_TRUE(store.raise_peak_memory("T_2", 2000).is_ok());
  ASSERT_TRUE(store.raise_peak_memory("T_3", 3000).is_ok());
  ASSERT_TRUE(store.raise_peak_memory("T_5", 5000).is_ok());
  ASSERT_TRUE(store.mark_ended("T_1", TaskState::kFinished, 0).is_ok());
  ASSERT_TRUE(store.mark_ended("T_2", TaskState::kKilled, std::nullopt).is_ok());
  std::optional<TaskRecord> last = *store.last_peak("k");
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->id, "T_2");
  EXPECT_EQ(last->peak_memory_mb, 2000);
  EXPECT_EQ(store.last_peak("other")->value().id, "T_5");  // running: none ended
  EXPECT_FALSE(store.last_peak("")->has_value());
  EXPECT_FALSE(store.last_peak("none")->has_value());
}

TEST_F(StateStoreTest, AThousandTasks) {
  StateStore store = open_store();
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(store.add(pending_task("T_" + std::to_string(i))).is_ok());
  }
  Result<std::vector<TaskRecord>> all = store.list_all();
  ASSERT_TRUE(all.is_ok());
  ASSERT_EQ(all->size(), 1000u);
  EXPECT_EQ(all->back().id, "T_999");
  EXPECT_EQ(store.list(TaskState::kPending)->size(), 1000u);
}

}  // namespace
}  // namespace dlnest
