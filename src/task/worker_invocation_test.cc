// The worker's command line: every kind of invocation survives to_argv() and parse(), and every
// malformed command line is an error that names the flag at fault.
#include "task/worker_invocation.h"

#include <gtest/gtest.h>

namespace dlnest {
namespace {

using Mode = WorkerInvocation::Mode;
using Args = std::vector<std::string>;

constexpr const char* kWorker = "/opt/dlnest/bin/dlnest-worker";

/// to_argv() without argv[0], as the worker's main() hands it to parse().
Args args_of(const WorkerInvocation& w) {
  Args argv = w.to_argv(kWorker);
  EXPECT_EQ(argv.at(0), kWorker);
  return Args(argv.begin() + 1, argv.end());
}

void expect_round_trip(const WorkerInvocation& w) {
  Result<WorkerInvocation> back = WorkerInvocation::parse(args_of(w));
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_TRUE(*back == w) << testing::PrintToString(args_of(w));
}

WorkerInvocation train(const std::string& package = "/saves/run") {
  WorkerInvocation w;
  w.package_dir = package;
  w.exit_file = "/state/tasks/t1.exit";
  return w;
}

std::string error_of(const Args& args) {
  Result<WorkerInvocation> w = WorkerInvocation::parse(args);
  EXPECT_FALSE(w.is_ok()) << testing::PrintToString(args);
  return w.is_ok() ? "" : w.status().message();
}

TEST(WorkerInvocation, TrainOnTheCpu) {
  const WorkerInvocation w = train();
  EXPECT_EQ(args_of(w), (Args{"train", "--package", "/saves/run", "--device", "cpu", "--exit-file",
                              "/state/tasks/t1.exit"}));
  expect_round_trip(w);
}

TEST(WorkerInvocation, TrainOnOneGpuInTheForeground) {
  WorkerInvocation w = train();
  w.gpus = {3};
  w.foreground = true;
  w.exit_file.clear();
  EXPECT_EQ(args_of(w),
            (Args{"train", "--package", "/saves/run", "--device", "cuda:3", "--foreground"}));
  expect_round_trip(w);
}

TEST(WorkerInvocation, Continue) {
  WorkerInvocation w = train();
  w.resume = true;
  EXPECT_EQ(args_of(w), (Args{"train", "--package", "/saves/run", "--resume", "--checkpoint", "-1",
                              "--device", "cpu", "--exit-file", "/state/tasks/t1.exit"}));
  expect_round_trip(w);
  w.checkpoint_id = 12;
  w.gpus = {1};
  expect_round_trip(w);
}

TEST(WorkerInvocation, DdpOnTheCpu) {
  WorkerInvocation w = train();
  w.ddp = true;
  w.nproc = 4;
  EXPECT_EQ(args_of(w), (Args{"train", "--package", "/saves/run", "--device", "cpu", "--ddp",
                              "--nproc", "4", "--exit-file", "/state/tasks/t1.exit"}));
  expect_round_trip(w);
  w.nproc = 0;  // NPROC_PER_NODE decides
  expect_round_trip(w);
}

TEST(WorkerInvocation, DdpOnGpus) {
  WorkerInvocation w = train();
  w.ddp = true;
  w.gpus = {2, 0, 5};
  w.ddp_timeout_s = 30.5;
  EXPECT_EQ(args_of(w), (Args{"train", "--package", "/saves/run", "--device", "cuda:2", "--devices",
                              "cuda:2,cuda:0,cuda:5", "--ddp", "--ddp-timeout", "30.5",
                              "--exit-file", "/state/tasks/t1.exit"}));
  expect_round_trip(w);
  w.gpus = {1};  // one rank still names its GPU list
  EXPECT_EQ(args_of(w).at(5), "--devices");
  expect_round_trip(w);
}

TEST(WorkerInvocation, MultiGpu) {
  WorkerInvocation w = train();
  w.gpus = {0, 1};
  w.resume = true;
  w.checkpoint_id = 3;
  EXPECT_EQ(args_of(w),
            (Args{"train", "--package", "/saves/run", "--resume", "--checkpoint", "3", "--device",
                  "cuda:0", "--devices", "cuda:0,cuda:1", "--exit-file", "/state/tasks/t1.exit"}));
  expect_round_trip(w);
}

TEST(WorkerInvocation, Analyze) {
  WorkerInvocation w;
  w.mode = Mode::kAnalyze;
  w.package_dir = "/saves/run";
  w.scripts_dir = "/saves/run/AnalyzeScripts";
  w.socket_path = "/state/tasks/a1.sock";
  w.checkpoint_id = -2;
  w.gpus = {1};
  w.exit_file = "/state/tasks/a1.exit";
  EXPECT_EQ(args_of(w), (Args{"analyze", "--package", "/saves/run", "--checkpoint", "-2",
                              "--device", "cuda:1", "--socket", "/state/tasks/a1.sock", "--scripts",
                              "/saves/run/AnalyzeScripts", "--exit-file", "/state/tasks/a1.exit"}));
  expect_round_trip(w);

  WorkerInvocation one_shot;
  one_shot.mode = Mode::kAnalyze;
  one_shot.package_dir = "/saves/run";
  one_shot.script = "/home/me/getAcc.cpp";
  one_shot.toolchain_dir = "/opt/dlnest/lib/scripts";
  expect_round_trip(one_shot);
}

TEST(WorkerInvocation, OneRankOfADistributedRun) {
  WorkerInvocation w = train();
  w.exit_file.clear();
  w.gpus = {4};
  w.rank = 3;
  w.world_size = 8;
  w.master_addr = "10.0.0.1";
  w.master_port = 29500;
  w.ddp_timeout_s = 600;
  w.resume = true;
  w.checkpoint_id = 7;
  EXPECT_EQ(args_of(w),
            (Args{"train", "--package", "/saves/run", "--resume", "--checkpoint", "7", "--device",
                  "cuda:4", "--rank", "3", "--world-size", "8", "--master-addr", "10.0.0.1",
                  "--master-port", "29500", "--ddp-timeout", "600"}));
  expect_round_trip(w);
}

TEST(WorkerInvocation, ARankOfAnotherLauncherTakesCudaByItsLocalRank) {
  Result<WorkerInvocation> w =
      WorkerInvocation::parse({"train", "--package", "/p", "--device", "cuda"});
  ASSERT_TRUE(w.is_ok()) << w.status().message();
  EXPECT_TRUE(w->gpu_from_local_rank);
  EXPECT_TRUE(w->gpus.empty());
  EXPECT_EQ(w->device(), "cuda");
  expect_round_trip(*w);
}

TEST(WorkerInvocation, ReadsFlagsWithEqualsSigns) {
  Result<WorkerInvocation> w = WorkerInvocation::parse(
      {"train", "--package=/p", "--devices=cuda:1,cuda:2", "--ddp", "--ddp-timeout=5"});
  ASSERT_TRUE(w.is_ok()) << w.status().message();
  EXPECT_EQ(w->package_dir, "/p");
  EXPECT_EQ(w->gpus, (std::vector<int>{1, 2}));
  EXPECT_EQ(w->device(), "cuda:1");
  EXPECT_EQ(w->ddp_timeout_s, 5.0);
}

TEST(WorkerInvocation, ErrorsNameTheFlag) {
  EXPECT_EQ(error_of({"train", "--package", "/p", "--bogus"}),
            "--bogus: not a flag of dlnest-worker train");
  EXPECT_EQ(error_of({"analyze", "--package", "/p", "--socket", "s", "--resume"}),
            "--resume: not a flag of dlnest-worker analyze");
  EXPECT_EQ(error_of({"train", "--package", "/p", "stray"}), "stray: unexpected argument");
  EXPECT_EQ(error_of({"train", "--package"}), "--package: expected a value (DIR)");
  EXPECT_EQ(error_of({"train", "--package", "--resume"}), "--package: expected a value (DIR)");
  EXPECT_EQ(error_of({"train", "--package="}), "--package: expected a value (DIR), got \"\"");
  EXPECT_EQ(error_of({"train", "--package", "/p", "--resume=yes"}), "--resume: takes no value");
  EXPECT_EQ(error_of({"train", "--resume"}), "--package: required");
}

TEST(WorkerInvocation, BadDevicesAreErrors) {
  EXPECT_EQ(error_of({"train", "--package", "/p", "--devices", "cuda:0,gpu1"}),
            "--devices cuda:0,gpu1: expected cuda:N,cuda:M,... (N a GPU number), got \"gpu1\"");
  EXPECT_EQ(error_of({"train", "--package", "/p", "--devices", "cuda:0,,cuda:1"}),
            "--devices cuda:0,,cuda:1: expected cuda:N,cuda:M,... (N a GPU number), got \"\"");
  EXPECT_EQ(error_of({"train", "--package", "/p", "--devices", "cuda:1,cuda:1"}),
            "--devices cuda:1,cuda:1: cuda:1 is named twice");
  EXPECT_EQ(error_of({"train", "--package", "/p", "--device", "cuda:x"}),
            "--device cuda:x: expected cpu, cuda:N or cuda");
  EXPECT_EQ(
      error_of({"train", "--package", "/p", "--device", "cuda:1", "--devices", "cuda:0,cuda:1"}),
      "--device cuda:1: expected cuda:0, the first of --devices cuda:0,cuda:1");
  EXPECT_EQ(error_of({"train", "--package", "/p", "--device", "cpu", "--devices", "cuda:0"}),
            "--device cpu: expected cuda:0, the first of --devices cuda:0");
}

TEST(WorkerInvocation, BadNumbersAreErrors) {
  EXPECT_EQ(error_of({"train", "--package", "/p", "--ddp", "--nproc", "two"}),
            "--nproc two: expected a positive integer");
  EXPECT_EQ(error_of({"train", "--package", "/p", "--ddp", "--nproc", "0"}),
            "--nproc 0: expected a positive integer");
  EXPECT_EQ(error_of({"train", "--package", "/p", "--checkpoint", "3x"}),
            "--checkpoint 3x: expected a checkpoint id (-1: the latest, -2: none)");
  EXPECT_EQ(error_of({"train", "--package", "/p", "--checkpoint", "-3"}),
            "--checkpoint -3: expected a checkpoint id (-1: the latest, -2: none)");
  EXPECT_EQ(error_of({"train", "--package", "/p", "--rank", "-1"}),
            "--rank -1: expected a non-negative integer");
  EXPECT_EQ(error_of({"train", "--package", "/p", "--rank", "0", "--master-port", "70000"}),
            "--master-port 70000: expected a port from 1 to 65535");
  EXPECT_EQ(error_of({"train", "--package", "/p", "--ddp-timeout", "0"}),
            "--ddp-timeout 0: expected a positive number of seconds");
  EXPECT_EQ(error_of({"train", "--package", "/p", "--ddp-timeout", "nan"}),
            "--ddp-timeout nan: expected a positive number of seconds");
}

TEST(WorkerInvocation, FlagsThatGoTogether) {
  EXPECT_EQ(error_of({"train", "--package", "/p", "--nproc", "2"}), "--nproc: needs --ddp");
  EXPECT_EQ(error_of({"train", "--package", "/p", "--ddp", "--rank", "0"}),
            "--rank: not with --ddp");
  EXPECT_EQ(error_of({"train", "--package", "/p", "--world-size", "2"}),
            "--world-size: needs --rank");
  EXPECT_EQ(error_of({"analyze", "--package", "/p"}),
            "--script or --socket: give one (a script to run, or a socket to serve)");
  EXPECT_EQ(error_of({"analyze", "--package", "/p", "--script", "a.cpp", "--socket", "s"}),
            "--script: not with --socket");
}

TEST(WorkerInvocation, ErrorsNameTheMode) {
  EXPECT_EQ(error_of({}), "expected a mode: train or analyze");
  EXPECT_EQ(error_of({"serve", "--package", "/p"}),
            "serve: unknown mode; expected train or analyze");
}

TEST(WorkerInvocation, UsageListsEveryFlagOfEachMode) {
  const std::string usage = WorkerInvocation::usage();
  for (const char* flag : {"--package DIR", "--resume", "--devices cuda:N,...", "--nproc N",
                           "--master-port PORT", "--socket PATH", "--toolchain DIR"}) {
    EXPECT_NE(usage.find(flag), std::string::npos) << flag << "\n" << usage;
  }
}

TEST(GpuList, FormatsAndParses) {
  EXPECT_EQ(format_gpu_list({}), "");
  EXPECT_EQ(format_gpu_list({0, 1}), "cuda:0,cuda:1");
  EXPECT_EQ(format_gpu(7), "cuda:7");
  EXPECT_EQ(*parse_gpu_list("cuda:3"), (std::vector<int>{3}));
  EXPECT_EQ(*parse_gpu_list(format_gpu_list({5, 2, 9})), (std::vector<int>{5, 2, 9}));
  EXPECT_EQ(parse_gpu_list("").status().message(),
            "expected cuda:N,cuda:M,... (N a GPU number), got \"\"");
  EXPECT_FALSE(parse_gpu_list("cuda:1,").is_ok());
  EXPECT_FALSE(parse_gpu_list("cpu").is_ok());
  EXPECT_FALSE(parse_gpu_list("cuda:-1").is_ok());
}

}  // namespace
}  // namespace dlnest
