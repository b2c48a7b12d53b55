#include "server/launch.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "devices/device_probe.h"
#include "task/worker_invocation.h"

namespace dlnest {
namespace {

const LaunchSettings kSettings{"/bin/dlnest-worker", "/bin/dlnest", "/lib/cmake/DLNest"};
const TaskFiles kFiles("/state/tasks");

TaskRecord train() {
  TaskRecord t;
  t.id = "T_1";
  t.package_dir = "/saves/p";
  return t;
}

WorkerInvocation parsed(const SpawnSpec& spec) {
  EXPECT_EQ(spec.argv[0], "/bin/dlnest-worker");
  auto w = WorkerInvocation::parse({spec.argv.begin() + 1, spec.argv.end()});
  EXPECT_TRUE(w.is_ok()) << w.status().message();
  return w.is_ok() ? *w : WorkerInvocation{};
}

TEST(LaunchTest, ACpuTrainingRunsOnTheCpu) {
  SpawnSpec spec = worker_spec(train(), {kCpuDevice}, {0}, false, kSettings, kFiles);
  WorkerInvocation w = parsed(spec);
  EXPECT_EQ(w.device(), "cpu");
  EXPECT_FALSE(w.resume);
  EXPECT_EQ(w.exit_file, "/state/tasks/T_1.exit");
  EXPECT_EQ(spec.exit_file, "/state/tasks/T_1.exit");
  EXPECT_EQ(spec.output_path, "/saves/p/_output.txt");
  EXPECT_EQ(spec.cwd, "/saves/p");
  EXPECT_EQ(spec.env.at("DLNEST_TASK_ID"), "T_1");
  EXPECT_EQ(spec.env.at("DLNEST_DEVICES"), "-1");
}

TEST(LaunchTest, GpuTasksGetTheirDevices) {
  TaskRecord t = train();
  EXPECT_EQ(parsed(worker_spec(t, {3}, {100}, false, kSettings, kFiles)).device(), "cuda:3");
  // Not multi-GPU: only the first device.
  EXPECT_EQ(parsed(worker_spec(t, {3, 1}, {1, 1}, false, kSettings, kFiles)).gpus,
            std::vector<int>{3});
  t.multi_gpu = true;
  EXPECT_EQ(parsed(worker_spec(t, {3, 1}, {1, 1}, false, kSettings, kFiles)).gpus,
            (std::vector<int>{3, 1}));
  SpawnSpec spec = worker_spec(t, {3, 1}, {10, 20}, false, kSettings, kFiles);
  EXPECT_EQ(spec.env.at("DLNEST_DEVICES"), "3,1");
  EXPECT_EQ(spec.env.at("DLNEST_RESERVED_MB"), "10,20");
}

TEST(LaunchTest, DdpTasksGetOneRankPerGpuOrNprocCpuRanks) {
  TaskRecord t = train();
  t.ddp = true;
  t.multi_gpu = true;
  WorkerInvocation w = parsed(worker_spec(t, {0, 1}, {1, 1}, false, kSettings, kFiles));
  EXPECT_TRUE(w.ddp);
  EXPECT_EQ(w.gpus, (std::vector<int>{0, 1}));
  t.cpu = true;
  t.nproc = 3;
  w = parsed(worker_spec(t, {kCpuDevice}, {0}, false, kSettings, kFiles));
  EXPECT_TRUE(w.ddp);
  EXPECT_TRUE(w.gpus.empty());
  EXPECT_EQ(w.nproc, 3);
  t.nproc = 0;
  EXPECT_EQ(parsed(worker_spec(t, {kCpuDevice}, {0}, false, kSettings, kFiles)).nproc, 1);
}

TEST(LaunchTest, AContinueResumesFromItsCheckpointAndARestartFromTheLatest) {
  TaskRecord t = train();
  t.load_ckpt = true;
  t.checkpoint_id = 4;
  WorkerInvocation w = parsed(worker_spec(t, {kCpuDevice}, {0}, false, kSettings, kFiles));
  EXPECT_TRUE(w.resume);
  EXPECT_EQ(w.checkpoint_id, 4);
  t.restarts = 1;
  w = parsed(worker_spec(t, {kCpuDevice}, {0}, true, kSettings, kFiles));
  EXPECT_TRUE(w.resume);
  EXPECT_EQ(w.checkpoint_id, -1);
  EXPECT_FALSE(parsed(worker_spec(t, {kCpuDevice}, {0}, false, kSettings, kFiles)).resume);
}

TEST(LaunchTest, AnAnalysisListensOnItsSocket) {
  TaskRecord t = train();
  t.id = "A_1";
  t.type = TaskType::kAnalyze;
  t.script_path = "/saves/p/AnalyzeScripts";
  t.checkpoint_id = -2;
  SpawnSpec spec = worker_spec(t, {kCpuDevice}, {0}, false, kSettings, kFiles);
  WorkerInvocation w = parsed(spec);
  EXPECT_EQ(w.mode, WorkerInvocation::Mode::kAnalyze);
  EXPECT_EQ(w.socket_path, "/state/tasks/A_1.sock");
  EXPECT_EQ(w.scripts_dir, "/saves/p/AnalyzeScripts");
  EXPECT_EQ(w.checkpoint_id, -2);
  EXPECT_EQ(spec.output_path, "/state/tasks/A_1.out");
}

TEST(LaunchTest, TheBuildStageBuildsThePackageForItsProject) {
  TaskRecord t = train();
  t.project_dir = "/projects/p";
  SpawnSpec spec = build_spec(t, kSettings, kFiles);
  EXPECT_EQ(spec.argv, (std::vector<std::string>{
                           "/bin/dlnest", "build-package", "--package", "/saves/p", "--project",
                           "/projects/p", "--error-file", "/state/tasks/T_1.error", "--exit-file",
                           "/state/tasks/T_1.exit", "--cmake-dir", "/lib/cmake/DLNest"}));
  EXPECT_EQ(spec.output_path, "/saves/p/_output.txt");
  EXPECT_EQ(spec.exit_file, "/state/tasks/T_1.exit");
}

}  // namespace
}  // namespace dlnest
