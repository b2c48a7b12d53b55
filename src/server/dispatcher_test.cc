// The dispatcher over its seams: a fake task runner on a fake machine, simulated GPUs, a real
// state database in a temporary folder. Servers are "crashed" at every step of the start
// protocol and a new one is booted over what is left.
#include "server/dispatcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <thread>

#include "devices/simulated_probe.h"
#include "devices/simulated_runner.h"
#include "dlnest/env.h"
#include "env/path.h"
#include "server/fake_task_runner.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using testing::FakeMachine;
using testing::FakeProcess;
using testing::FakeTaskRunner;
using testing::ServerCrash;
using testing::TempDir;

bool has(const std::vector<std::string>& argv, const std::string& arg) {
  return std::find(argv.begin(), argv.end(), arg) != argv.end();
}

std::string after(const std::vector<std::string>& argv, const std::string& flag) {
  auto it = std::find(argv.begin(), argv.end(), flag);
  return it == argv.end() || it + 1 == argv.end() ? "" : *(it + 1);
}

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override { boot(); }
  void TearDown() override { shutdown(); }

  /// Starts server number ++server_ over the state folder and the machine: the state is opened
  /// again and the tasks an earlier server left are settled.
  void boot(std::vector<int64_t> gpus_mb = {}, bool end_tasks_on_exit = false) {
    ++server_;
    store_ = std::make_unique<StateStore>(StateStore::open(dir_.file("state")).value());
    ASSERT_TRUE(Env::default_env()->create_dirs(dir_.file("tasks")).is_ok());
    probe_ = std::make_unique<SimulatedProbe>(gpus_mb);
    fake_ = new FakeTaskRunner(&machine_, server_);
    runner_.reset(fake_);
    if (!gpus_mb.empty()) {
      runner_ = std::make_unique<SimulatedGpuRunner>(std::move(runner_), probe_.get());
    }
    DispatcherOptions options;
    options.tasks_dir = dir_.file("tasks");
    options.launch.worker_path = "/opt/dlnest/bin/dlnest-worker";
    options.launch.dlnest_path = "/opt/dlnest/bin/dlnest";
    options.end_tasks_on_exit = end_tasks_on_exit;
    dispatcher_ =
        std::make_unique<Dispatcher>(options, store_.get(), probe_.get(), runner_.get(), &log_);
    dispatcher_->recover();
  }

  /// The server dies where it stands: nothing of it runs again.
  void shutdown() {
    dispatcher_.reset();
    runner_.reset();
    store_.reset();
  }

  std::string add(TaskRecord task) {
    task.args = Json{{"epochs", 1}};
    if (task.package_dir.empty()) task.package_dir = dir_.file("pkg_" + std::to_string(++n_));
    auto id = store_->add_with_new_id(task);
    EXPECT_TRUE(id.is_ok()) << id.status().message();
    return *id;
  }
  std::string add_cpu(int max_restarts = 0) {
    TaskRecord t;
    t.cpu = true;
    t.max_restarts = max_restarts;
    return add(t);
  }
  std::string add_new_training(const std::string& project) {
    TaskRecord t;
    t.cpu = true;
    t.needs_build = true;
    t.project_dir = project;
    return add(t);
  }

  TaskRecord task(const std::string& id) { return store_->get(id).value(); }
  /// Rounds until nothing changes (exits are reported from within the calls of a round).
  void settle() {
    for (int i = 0; i < 4; ++i) dispatcher_->run_once();
  }
  /// The live process of `id` that runs its program; fails when there is not exactly one.
  const FakeProcess* the_process(const std::string& id) {
    auto running = machine_.running(id);
    EXPECT_EQ(running.size(), 1u) << id;
    return running.empty() ? nullptr : running[0];
  }

  TempDir dir_;
  FakeMachine machine_;
  MessageLog log_;
  int server_ = 0;
  int n_ = 0;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<SimulatedProbe> probe_;
  FakeTaskRunner* fake_ = nullptr;  // inside runner_
  std::unique_ptr<TaskRunner> runner_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(DispatcherTest, StartsACpuTaskAndRecordsItsProcess) {
  const std::string id = add_cpu();
  dispatcher_->run_once();
  const FakeProcess* p = the_process(id);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(task(id).state, TaskState::kRunning);
  EXPECT_EQ(task(id).pid, p->pid);
  EXPECT_EQ(task(id).devices, std::vector<int>{kCpuDevice});
  EXPECT_EQ(p->spec.argv[0], "/opt/dlnest/bin/dlnest-worker");
  EXPECT_EQ(p->spec.argv[1], "train");
  EXPECT_EQ(after(p->spec.argv, "--device"), "cpu");
  EXPECT_EQ(after(p->spec.argv, "--exit-file"), dir_.file("tasks/" + id + ".exit"));
  EXPECT_EQ(p->spec.output_path, path::join(task(id).package_dir, "_output.txt"));
}

TEST_F(DispatcherTest, ExitsBecomeFinishedOrFailed) {
  const std::string ok = add_cpu();
  const std::string bad = add_cpu();
  dispatcher_->run_once();
  fake_->exit_task(ok, 0);
  fake_->exit_task(bad, 1);
  dispatcher_->run_once();
  EXPECT_EQ(task(ok).state, TaskState::kFinished);
  EXPECT_EQ(task(bad).state, TaskState::kFailed);
  EXPECT_EQ(task(bad).error, "exited with code 1");
  EXPECT_EQ(task(bad).exit_code, 1);
}

TEST_F(DispatcherTest, AnEndedTaskLeavesNoSocketOrCommandSpoolBehind) {
  const std::string id = add_cpu();
  dispatcher_->run_once();
  const std::string socket = dispatcher_->files().analyzer_socket(id);
  std::ofstream(socket) << "";
  std::ofstream(socket + ".queue") << "getAcc\n";
  fake_->exit_task(id, 0);
  dispatcher_->run_once();
  ASSERT_EQ(task(id).state, TaskState::kFinished);
  EXPECT_FALSE(Env::default_env()->file_exists(socket));
  EXPECT_FALSE(Env::default_env()->file_exists(socket + ".queue"));
}

TEST_F(DispatcherTest, AFailedTaskRestartsWhileItHasRestartsLeft) {
  const std::string id = add_cpu(/*max_restarts=*/1);
  dispatcher_->run_once();
  fake_->exit_task(id, 1);
  dispatcher_->run_once();  // fails, is queued again and starts again
  EXPECT_EQ(task(id).state, TaskState::kRunning);
  EXPECT_EQ(task(id).restarts, 1);
  // No checkpoint in the package: the restart starts over instead of resuming.
  EXPECT_FALSE(has(the_process(id)->spec.argv, "--resume"));
  fake_->exit_task(id, 1);
  settle();
  EXPECT_EQ(task(id).state, TaskState::kFailed);
  EXPECT_EQ(machine_.ran(id).size(), 2u);
}

TEST_F(DispatcherTest, ANewTrainingIsBuiltFromItsPackageBeforeItWaitsForDevices) {
  const std::string id = add_new_training(dir_.file("project"));
  dispatcher_->run_once();
  EXPECT_EQ(task(id).state, TaskState::kBuilding);
  const FakeProcess* build = the_process(id);
  ASSERT_NE(build, nullptr);
  EXPECT_EQ(build->spec.argv[0], "/opt/dlnest/bin/dlnest");
  EXPECT_EQ(build->spec.argv[1], "build-package");
  EXPECT_EQ(after(build->spec.argv, "--package"), task(id).package_dir);
  EXPECT_EQ(after(build->spec.argv, "--project"), dir_.file("project"));
  EXPECT_EQ(build->spec.output_path, path::join(task(id).package_dir, "_output.txt"));
  fake_->exit_task(id, 0);
  dispatcher_->run_once();
  EXPECT_EQ(task(id).state, TaskState::kRunning);
  EXPECT_FALSE(task(id).needs_build);
  EXPECT_EQ(the_process(id)->spec.argv[1], "train");
}

TEST_F(DispatcherTest, AFailedBuildFailsTheTaskWithTheCompilersFirstErrorLine) {
  const std::string id = add_new_training(dir_.file("project"));
  dispatcher_->run_once();
  dir_.write("tasks/" + id + ".error",
             "Model/Runner.cpp:12:5: error: expected ';' before '}' token\nmore output\n");
  fake_->exit_task(id, 1);
  settle();
  EXPECT_EQ(task(id).state, TaskState::kFailed);
  EXPECT_EQ(task(id).error,
            "build failed: Model/Runner.cpp:12:5: error: expected ';' before '}' token");
  EXPECT_EQ(machine_.ran(id).size(), 1u);  // no worker ran
}

TEST_F(DispatcherTest, BuildsOfOneProjectNeverRunAtOnceButOtherProjectsBuildBeside) {
  const std::string a1 = add_new_training(dir_.file("a"));
  const std::string a2 = add_new_training(dir_.file("a"));
  const std::string b = add_new_training(dir_.file("b"));
  dispatcher_->run_once();
  EXPECT_EQ(task(a1).state, TaskState::kBuilding);
  EXPECT_EQ(task(a2).state, TaskState::kPending);
  EXPECT_EQ(task(b).state, TaskState::kBuilding);
  fake_->exit_task(a1, 0);
  dispatcher_->run_once();
  EXPECT_EQ(task(a2).state, TaskState::kBuilding);
}

TEST_F(DispatcherTest, DeletesPendingBuildingAndRunningTasks) {
  const std::string running = add_cpu(/*max_restarts=*/3);
  const std::string building = add_new_training(dir_.file("p"));
  dispatcher_->run_once();
  const std::string pending = add_cpu();
  ASSERT_TRUE(dispatcher_->delete_task(pending).is_ok());
  EXPECT_EQ(task(pending).state, TaskState::kKilled);
  EXPECT_EQ(task(pending).error, "deleted while pending");
  ASSERT_TRUE(dispatcher_->delete_task(running).is_ok());
  ASSERT_TRUE(dispatcher_->delete_task(building).is_ok());
  settle();
  EXPECT_EQ(task(running).state, TaskState::kKilled);  // not restarted
  EXPECT_EQ(task(building).state, TaskState::kKilled);
  EXPECT_TRUE(machine_.running(running).empty());
  EXPECT_TRUE(machine_.running(building).empty());
  EXPECT_TRUE(machine_.ran(pending).empty());
  Status again = dispatcher_->delete_task(running);
  EXPECT_EQ(again.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(again.message().find("has already ended (Killed)"), std::string::npos);
  EXPECT_EQ(dispatcher_->delete_task("T_0000.0000_99").code(), Status::Code::kNotFound);
}

TEST_F(DispatcherTest, ATaskThatCannotStartFailsAloneAndTheNextOneStarts) {
  const std::string bad = add_cpu();
  const std::string good = add_cpu();
  fake_->fail_next_spawn(Status::io_error("cannot start: /p/_output.txt is not a regular file"));
  dispatcher_->run_once();
  EXPECT_EQ(task(bad).state, TaskState::kFailed);
  EXPECT_EQ(task(bad).error, "could not start: cannot start: /p/_output.txt is not a regular file");
  EXPECT_EQ(task(good).state, TaskState::kRunning);
}

TEST_F(DispatcherTest, AStartThatCannotBeRecordedIsGivenUpBeforeItRuns) {
  const std::string id = add_cpu();
  // The task is deleted between its spawn and the record of its start.
  fake_->on_spawned(
      [&](const std::string& task_id) { ASSERT_TRUE(store_->request_delete(task_id).is_ok()); });
  settle();
  EXPECT_EQ(task(id).state, TaskState::kKilled);
  EXPECT_TRUE(machine_.ran(id).empty());
  EXPECT_TRUE(machine_.running(id).empty());
  ASSERT_EQ(machine_.processes().size(), 1u);
  EXPECT_EQ(machine_.processes()[0].exit_code, kExitNeverStarted);
}

TEST_F(DispatcherTest, TheServerAnswersWhileASpawnIsSlow) {
  const std::string slow = add_cpu();
  std::promise<void> go;
  std::shared_future<void> gate = go.get_future().share();
  struct Blocking : FakeTaskRunner {
    Blocking(FakeMachine* m, std::shared_future<void> g) : FakeTaskRunner(m, 99), gate(g) {}
    Result<ProcessHandle> spawn(const std::string& id, const SpawnSpec& spec) override {
      gate.wait();
      return FakeTaskRunner::spawn(id, spec);
    }
    std::shared_future<void> gate;
  };
  dispatcher_.reset();
  runner_ = std::make_unique<Blocking>(&machine_, gate);
  DispatcherOptions options;
  options.tasks_dir = dir_.file("tasks");
  options.launch.worker_path = "/w";
  dispatcher_ =
      std::make_unique<Dispatcher>(options, store_.get(), probe_.get(), runner_.get(), &log_);
  const std::string other = add_cpu();
  std::thread round([&] { dispatcher_->run_once(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // The round is stuck in spawn; everything else still answers.
  auto answered = std::async(std::launch::async, [&] {
    EXPECT_TRUE(dispatcher_->set_delay(2).is_ok());
    EXPECT_EQ(dispatcher_->delay(), 2);
    (void)dispatcher_->tasks_by_device();
    (void)dispatcher_->settings();
  });
  EXPECT_EQ(answered.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  go.set_value();
  round.join();
  EXPECT_EQ(task(slow).state, TaskState::kRunning);
  (void)other;
}

// ---- crash-exact starts ----

const char* const kStartSteps[] = {"spawn", "spawned", "release", "released"};

TEST_F(DispatcherTest, ACrashAtAnyStepOfAWorkerStartLeavesOneWorkerOrNone) {
  for (const char* step : kStartSteps) {
    SCOPED_TRACE(step);
    const std::string id = add_cpu();
    fake_->crash_at(step);
    EXPECT_THROW(dispatcher_->run_once(), ServerCrash);
    EXPECT_LE(machine_.running(id).size(), 1u);
    shutdown();
    boot();
    settle();
    // The new server knows the one worker there is, and no second one ever ran.
    const FakeProcess* p = the_process(id);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(machine_.ran(id).size(), 1u);
    EXPECT_EQ(task(id).state, TaskState::kRunning);
    EXPECT_EQ(task(id).pid, p->pid);
    EXPECT_TRUE(fake_->watches(id));
    EXPECT_EQ(task(id).restarts, 0);
  }
}

TEST_F(DispatcherTest, ACrashAtAnyStepOfABuildStartLeavesOneBuildOrNone) {
  for (const char* step : kStartSteps) {
    SCOPED_TRACE(step);
    const std::string id = add_new_training(dir_.file(std::string("project_") + step));
    fake_->crash_at(step);
    EXPECT_THROW(dispatcher_->run_once(), ServerCrash);
    shutdown();
    boot();
    settle();
    const FakeProcess* build = the_process(id);
    ASSERT_NE(build, nullptr);
    EXPECT_EQ(machine_.ran(id).size(), 1u);
    EXPECT_EQ(task(id).state, TaskState::kBuilding);
    EXPECT_EQ(task(id).pid, build->pid);
    fake_->exit_task(id, 0);
    settle();
    EXPECT_EQ(task(id).state, TaskState::kRunning);
    EXPECT_EQ(machine_.ran(id).size(), 2u);  // one build, one worker
  }
}

// ---- deletes survive crashes ----

TEST_F(DispatcherTest, AnAnsweredDeleteIsNotUndoneByACrashWhileTheTaskIsEnding) {
  const std::string id = add_cpu(/*max_restarts=*/3);
  dispatcher_->run_once();
  fake_->set_slow_terminate(true);
  ASSERT_TRUE(dispatcher_->delete_task(id).is_ok());
  shutdown();  // killed right after the answer; the worker still runs
  boot();
  settle();
  EXPECT_EQ(task(id).state, TaskState::kKilled);
  EXPECT_TRUE(machine_.running(id).empty());
  EXPECT_EQ(machine_.ran(id).size(), 1u);
}

TEST_F(DispatcherTest, AnAnsweredDeleteIsNotUndoneWhenTheTaskEndedDuringTheCrash) {
  const std::string id = add_cpu(/*max_restarts=*/3);
  dispatcher_->run_once();
  fake_->set_slow_terminate(true);
  ASSERT_TRUE(dispatcher_->delete_task(id).is_ok());
  const int pid = the_process(id)->pid;
  shutdown();
  machine_.end(*machine_.find(pid), 130);  // SIGINT ended it while no server ran
  boot();
  settle();
  EXPECT_EQ(task(id).state, TaskState::kKilled);
  EXPECT_EQ(task(id).restarts, 0);
  EXPECT_EQ(machine_.ran(id).size(), 1u);
}

// ---- recovery: one rule for exits seen live and exits found after a restart ----

TEST_F(DispatcherTest, ARestartedServerDecidesTheEndsOfTasksThatEndedMeanwhile) {
  const std::string finished = add_cpu();
  const std::string failed = add_cpu(/*max_restarts=*/1);
  const std::string unknown = add_cpu();
  const std::string alive = add_cpu();
  dispatcher_->run_once();
  const int pf = the_process(finished)->pid;
  const int pd = the_process(failed)->pid;
  const int pu = the_process(unknown)->pid;
  shutdown();
  machine_.end(*machine_.find(pf), 0);
  machine_.end(*machine_.find(pd), 1);
  FakeProcess* u = machine_.find(pu);
  u->alive = false;  // gone without an exit file (killed by SIGKILL)
  boot();
  EXPECT_EQ(task(finished).state, TaskState::kFinished);
  EXPECT_EQ(task(failed).state, TaskState::kPending);  // restarted
  EXPECT_EQ(task(failed).restarts, 1);
  EXPECT_EQ(task(unknown).state, TaskState::kFailed);
  EXPECT_NE(task(unknown).error.find("exit code unknown"), std::string::npos);
  EXPECT_EQ(task(alive).state, TaskState::kRunning);
  EXPECT_TRUE(fake_->watches(alive));
}

TEST_F(DispatcherTest, ALocalServerEndsTheTasksAnEarlierOneLeft) {
  const std::string id = add_cpu(/*max_restarts=*/2);
  dispatcher_->run_once();
  shutdown();
  boot({}, /*end_tasks_on_exit=*/true);
  settle();
  EXPECT_EQ(task(id).state, TaskState::kKilled);
  EXPECT_TRUE(machine_.running(id).empty());
}

// ---- simulated GPUs: a probe and runner pair the dispatcher cannot tell from real ones ----

TEST_F(DispatcherTest, SimulatedGpusRunTasksOnTheCpuAndShowTheirReservations) {
  shutdown();
  boot({1000});
  TaskRecord big;
  big.memory_mb = 600;
  const std::string first = add(big);
  const std::string second = add(big);
  dispatcher_->run_once();
  EXPECT_EQ(task(first).state, TaskState::kRunning);
  EXPECT_EQ(task(first).devices, std::vector<int>{0});
  EXPECT_EQ(after(the_process(first)->spec.argv, "--device"), "cpu");
  EXPECT_EQ(probe_->probe().find(0)->used_mb, 600);
  settle();
  EXPECT_EQ(task(second).state, TaskState::kPending);  // 400 MB free
  fake_->exit_task(first, 0);
  settle();
  EXPECT_EQ(task(second).state, TaskState::kRunning);
}

TEST_F(DispatcherTest, ADdpTaskOnSimulatedGpusGetsOneCpuRankPerGpu) {
  shutdown();
  boot({1000, 1000});
  TaskRecord ddp;
  ddp.memory_mb = 1500;
  ddp.ddp = true;
  ddp.multi_gpu = true;
  const std::string id = add(ddp);
  dispatcher_->run_once();
  const FakeProcess* p = the_process(id);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(has(p->spec.argv, "--ddp"));
  EXPECT_EQ(after(p->spec.argv, "--nproc"), "2");
  EXPECT_FALSE(has(p->spec.argv, "--devices"));
}

}  // namespace
}  // namespace dlnest
