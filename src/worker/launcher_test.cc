// The launcher's watch policy against fake rank processes, its environment parsing, and a few
// real processes.
#include "worker/launcher.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <sstream>
#include <thread>

#include "dlnest/save_package.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

/// Rank processes on a tick clock: each ends by itself at a given tick (or never), and on
/// SIGTERM unless it ignores it; SIGKILL always ends it.
class FakeRankProcesses final : public RankProcesses {
 public:
  struct Script {
    int ends_at = -1;  ///< tick at which it exits by itself; -1: never
    int code = 0;
    bool ignores_term = false;
    int killed_by = 0;  ///< at ends_at, dies of this signal instead of exiting
  };

  explicit FakeRankProcesses(std::vector<Script> scripts) : scripts_(std::move(scripts)) {}

  Result<int> start(const std::vector<std::string>& argv,
                    const std::map<std::string, std::string>& env) override {
    if (fail_start_at_ == static_cast<int>(started_.size())) {
      return Status::io_error("cannot start " + argv[0]);
    }
    const int pid = 100 + static_cast<int>(started_.size());
    started_.push_back(argv);
    envs_.push_back(env);
    Child child;
    child.script = scripts_.at(started_.size() - 1);
    children_[pid] = child;
    return pid;
  }

  std::optional<ChildExit> wait_any(double) override {
    for (auto& [pid, child] : children_) {
      std::optional<ChildExit> exit;
      if (child.signal != 0) {
        exit = ChildExit{pid, 128 + child.signal, child.signal};
      } else if (child.script.ends_at >= 0 && child.script.ends_at <= tick_) {
        const int sig = child.script.killed_by;
        exit = sig != 0 ? ChildExit{pid, 128 + sig, sig} : ChildExit{pid, child.script.code, 0};
      }
      if (exit) {
        children_.erase(pid);
        return exit;
      }
    }
    ++tick_;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return std::nullopt;
  }

  void signal(int pid, int sig) override {
    signals_.emplace_back(pid, sig);
    auto it = children_.find(pid);
    if (it == children_.end()) return;
    if (sig == kStopRequest) {  // a training rank stops after its step, saying so
      it->second.script = {tick_ + 1, kInterruptedExitCode};
    } else if (sig == SIGKILL || !it->second.script.ignores_term) {
      it->second.signal = sig;
    }
  }

  int tick() const { return tick_; }
  int fail_start_at_ = -1;
  std::vector<std::vector<std::string>> started_;
  std::vector<std::map<std::string, std::string>> envs_;
  std::vector<std::pair<int, int>> signals_;

 private:
  struct Child {
    Script script;
    int signal = 0;
  };
  std::vector<Script> scripts_;
  std::map<int, Child> children_;
  int tick_ = 0;
};

std::vector<RankSpec> specs(int n) {
  std::vector<RankSpec> out;
  for (int r = 0; r < n; ++r) {
    RankSpec spec;
    spec.rank = r;
    spec.output_file = SavePackage::output_file_for_rank(r);
    spec.argv = {"/bin/worker", "--rank", std::to_string(r)};
    spec.env = {{"RANK", std::to_string(r)}};
    out.push_back(spec);
  }
  return out;
}

WatchOptions fast() {
  WatchOptions options;
  options.term_grace_s = 0.05;
  return options;
}

TEST(RunRanks, ReturnsZeroWhenEveryRankSucceeds) {
  FakeRankProcesses fake({{3, 0}, {5, 0}, {1, 0}});
  std::ostringstream log;
  EXPECT_EQ(run_ranks(fake, specs(3), fast(), log), 0);
  ASSERT_EQ(fake.started_.size(), 3u);
  EXPECT_EQ(fake.started_[2], (std::vector<std::string>{"/bin/worker", "--rank", "2"}));
  EXPECT_EQ(fake.envs_[1].at("RANK"), "1");
  EXPECT_TRUE(fake.signals_.empty());
  EXPECT_EQ(log.str(), "");
}

TEST(RunRanks, AFailingRankEndsTheOthersWithItsCode) {
  FakeRankProcesses fake({{-1, 0}, {2, 3}, {-1, 0}});
  std::ostringstream log;
  EXPECT_EQ(run_ranks(fake, specs(3), fast(), log), 3);
  EXPECT_EQ(log.str(),
            "[dlnest] rank 1 failed (exit code 3; its output is in _output_1.txt): ending the "
            "other ranks\n");
  EXPECT_EQ(fake.signals_, (std::vector<std::pair<int, int>>{{100, SIGTERM}, {102, SIGTERM}}));
}

TEST(RunRanks, ARankThatOnlyLostItsPeerIsNotBlamedForThePeersFailure) {
  testing::TempDir dir;
  std::vector<RankSpec> ranks = specs(3);
  for (RankSpec& r : ranks) r.output_file = dir.file(r.output_file);
  // Rank 0 is seen first, but it failed because rank 2 went away; rank 2 failed by itself.
  dir.write("_output_0.txt",
            "[dlnest] train\n[dlnest] error: stage ModelOneStep (epoch 1, iter 1): "
            "[./gloo/transport/tcp/pair.cc:598] Connection closed by peer [127.0.0.1]:25218\n");
  dir.write("_output_2.txt",
            "[dlnest] error: stage ModelOneStep (epoch 1, iter 1): injected failure\n");
  FakeRankProcesses fake({{2, 1}, {-1, 0}, {4, 5}});
  std::ostringstream log;
  EXPECT_EQ(run_ranks(fake, ranks, fast(), log), 5);
  EXPECT_EQ(log.str(), "[dlnest] rank 2 failed (exit code 5; its output is in " +
                           ranks[2].output_file + "): ending the other ranks\n");
  // Without a rank of its own failing in time, the first one is reported.
  FakeRankProcesses alone({{2, 1}, {-1, 0}, {-1, 0}});
  WatchOptions options = fast();
  options.peer_settle_s = 0.05;
  std::ostringstream log2;
  EXPECT_EQ(run_ranks(alone, ranks, options, log2), 1);
  EXPECT_NE(log2.str().find("[dlnest] rank 0 failed (exit code 1"), std::string::npos)
      << log2.str();
}

TEST(RunRanks, TheLastRankFailingIsReportedToo) {
  FakeRankProcesses fake({{1, 0}, {3, 2}});
  std::ostringstream log;
  EXPECT_EQ(run_ranks(fake, specs(2), fast(), log), 2);
  EXPECT_EQ(log.str(), "[dlnest] rank 1 failed (exit code 2; its output is in _output_1.txt)\n");
}

TEST(RunRanks, ARankKilledByASignalReportsIt) {
  FakeRankProcesses fake({{-1, 0}, {2, 0, false, SIGSEGV}});
  std::ostringstream log;
  EXPECT_EQ(run_ranks(fake, specs(2), fast(), log), 128 + SIGSEGV);
  EXPECT_NE(log.str().find("rank 1 failed (killed by SIGSEGV"), std::string::npos) << log.str();
}

TEST(RunRanks, RanksThatIgnoreSigtermAreKilledAfterTheGrace) {
  FakeRankProcesses fake({{-1, 0, true}, {1, 7}});
  std::ostringstream log;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(run_ranks(fake, specs(2), fast(), log), 7);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
  EXPECT_EQ(fake.signals_, (std::vector<std::pair<int, int>>{{100, SIGTERM}, {100, SIGKILL}}));
  EXPECT_NE(log.str().find("still running after 0.05 s: killing them"), std::string::npos);
}

TEST(RunRanks, AStopSignalAsksEveryRankToStopOnce) {
  FakeRankProcesses fake({{-1, 0}, {-1, 0}});
  WatchOptions options = fast();
  options.stop_signal = [&fake] { return fake.tick() >= 3 ? SIGTERM : 0; };
  std::ostringstream log;
  EXPECT_EQ(run_ranks(fake, specs(2), options, log), kInterruptedExitCode);
  EXPECT_NE(log.str().find("stopped by SIGTERM: asking the ranks to stop after the same step"),
            std::string::npos);
  EXPECT_EQ(fake.signals_,
            (std::vector<std::pair<int, int>>{{100, kStopRequest}, {101, kStopRequest}}));
}

TEST(RunRanks, ARankStoppedOnItsOwnIsNoFailure) {
  FakeRankProcesses fake({{3, kInterruptedExitCode}, {4, kInterruptedExitCode}});
  std::ostringstream log;
  EXPECT_EQ(run_ranks(fake, specs(2), fast(), log), kInterruptedExitCode);
  EXPECT_TRUE(fake.signals_.empty()) << log.str();
}

TEST(RunRanks, ARankThatCannotStartEndsTheStartedOnes) {
  FakeRankProcesses fake({{-1, 0}, {-1, 0}, {-1, 0}});
  fake.fail_start_at_ = 1;
  std::ostringstream log;
  EXPECT_EQ(run_ranks(fake, specs(3), fast(), log), 1);
  EXPECT_EQ(fake.started_.size(), 1u);
  EXPECT_NE(log.str().find("error: rank 1: cannot start /bin/worker"), std::string::npos);
  EXPECT_EQ(fake.signals_, (std::vector<std::pair<int, int>>{{100, SIGTERM}}));
}

TEST(RunRanks, RealProcessesEndPromptly) {
  auto processes = make_posix_rank_processes();
  std::vector<RankSpec> ranks(3);
  ranks[0].argv = {"/bin/sh", "-c", "exec sleep 30"};
  ranks[1].rank = 1;
  ranks[1].argv = {"/bin/sh", "-c", "sleep 0.2; exit \"$CODE\""};
  ranks[1].env = {{"CODE", "4"}};
  ranks[2].rank = 2;
  ranks[2].argv = {"/bin/sh", "-c", "trap '' TERM; exec sleep 30"};
  WatchOptions options;
  options.term_grace_s = 0.5;
  std::ostringstream log;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(run_ranks(*processes, ranks, options, log), 4);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5)) << log.str();
  EXPECT_NE(log.str().find("rank 1 failed (exit code 4)"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("killing them"), std::string::npos) << log.str();
}

TEST(RunRanks, AMissingProgramIsAnErrorNamingIt) {
  auto processes = make_posix_rank_processes();
  Result<int> pid = processes->start({"/no/such/worker"}, {});
  ASSERT_FALSE(pid.is_ok());
  EXPECT_EQ(pid.status().message(), "cannot start /no/such/worker: No such file or directory");
}

EnvLookup env_of(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

TEST(NodeLayout, DefaultsToOneNodeOnLoopback) {
  Result<NodeLayout> layout = node_layout_from_env(env_of({}), 0, 4);
  ASSERT_TRUE(layout.is_ok());
  EXPECT_EQ(layout->nnodes, 1);
  EXPECT_EQ(layout->nproc_per_node, 4);
  EXPECT_EQ(layout->master_addr, "127.0.0.1");
  EXPECT_EQ(layout->master_port, 0);
  EXPECT_EQ(layout->world_size(), 4);
}

TEST(NodeLayout, ReadsTheTorchrunVariables) {
  Result<NodeLayout> layout = node_layout_from_env(env_of({{"NNODES", "3"},
                                                           {"NODE_RANK", "2"},
                                                           {"NPROC_PER_NODE", "2"},
                                                           {"MASTER_ADDR", "10.0.0.1"},
                                                           {"MASTER_PORT", "29500"}}),
                                                   0, 8);
  ASSERT_TRUE(layout.is_ok()) << layout.status().message();
  EXPECT_EQ(layout->world_size(), 6);
  EXPECT_EQ(layout->global_rank(1), 5);
  EXPECT_EQ(layout->master_addr, "10.0.0.1");
  EXPECT_EQ(layout->master_port, 29500);
  // --nproc wins over NPROC_PER_NODE.
  EXPECT_EQ(node_layout_from_env(env_of({{"NPROC_PER_NODE", "2"}}), 5, 1)->nproc_per_node, 5);
}

TEST(NodeLayout, ErrorsNameTheVariable) {
  EXPECT_EQ(node_layout_from_env(env_of({{"NNODES", "two"}}), 0, 1).status().message(),
            "NNODES=two: expected an integer from 1 to 65536");
  EXPECT_EQ(
      node_layout_from_env(env_of({{"NNODES", "2"}, {"NODE_RANK", "2"}}), 0, 1).status().message(),
      "NODE_RANK=2: expected an integer from 0 to 1");
  EXPECT_EQ(node_layout_from_env(env_of({{"MASTER_PORT", "70000"}}), 0, 1).status().message(),
            "MASTER_PORT=70000: expected an integer from 1 to 65535");
  EXPECT_NE(node_layout_from_env(env_of({{"NNODES", "2"}}), 0, 1)
                .status()
                .message()
                .find("needs MASTER_ADDR and MASTER_PORT"),
            std::string::npos);
}

/// A rank's command line as the worker reads it.
WorkerInvocation parsed(const RankSpec& spec) {
  EXPECT_EQ(spec.argv.at(0), "/bin/dlnest-worker");
  auto w = WorkerInvocation::parse({spec.argv.begin() + 1, spec.argv.end()});
  EXPECT_TRUE(w.is_ok()) << w.status().message();
  return w.is_ok() ? *w : WorkerInvocation{};
}

WorkerInvocation ddp_launcher() {
  WorkerInvocation w;
  w.package_dir = "/saves/run";
  w.exit_file = "/state/tasks/t.exit";
  w.ddp = true;
  w.resume = true;
  w.checkpoint_id = 4;
  w.ddp_timeout_s = 30;
  return w;
}

TEST(NodeRankSpecs, EachGpuRankGetsItsDeviceAndTheRendezvous) {
  WorkerInvocation launcher = ddp_launcher();
  launcher.gpus = {3, 1};
  NodeLayout layout;
  layout.nnodes = 2;
  layout.node_rank = 1;
  layout.nproc_per_node = 2;
  layout.master_addr = "10.0.0.1";
  layout.master_port = 29500;
  const std::vector<RankSpec> ranks = node_rank_specs(launcher, layout, "/bin/dlnest-worker");
  ASSERT_EQ(ranks.size(), 2u);
  for (int local = 0; local < 2; ++local) {
    const RankSpec& spec = ranks[static_cast<size_t>(local)];
    const WorkerInvocation w = parsed(spec);
    EXPECT_EQ(spec.rank, 2 + local);
    EXPECT_EQ(spec.output_file, SavePackage::output_file_for_rank(2 + local));
    EXPECT_EQ(w.rank, 2 + local);
    EXPECT_EQ(w.world_size, 4);
    EXPECT_EQ(w.gpus, std::vector<int>{launcher.gpus[static_cast<size_t>(local)]});
    EXPECT_EQ(w.master_addr, "10.0.0.1");
    EXPECT_EQ(w.master_port, 29500);
    EXPECT_EQ(w.package_dir, "/saves/run");
    EXPECT_TRUE(w.resume);
    EXPECT_EQ(w.checkpoint_id, 4);
    EXPECT_EQ(w.ddp_timeout_s, 30.0);
    EXPECT_FALSE(w.ddp);
    EXPECT_TRUE(w.exit_file.empty()) << "the launcher alone writes the exit file";
    EXPECT_EQ(w.foreground, local == 0) << "the first rank echoes to the launcher's output";
    EXPECT_TRUE(w == rank_invocation(launcher, layout, local));
    EXPECT_EQ(spec.env.at("RANK"), std::to_string(2 + local));
    EXPECT_EQ(spec.env.at("LOCAL_RANK"), std::to_string(local));
    EXPECT_EQ(spec.env.at("WORLD_SIZE"), "4");
    EXPECT_EQ(spec.env.at("LOCAL_WORLD_SIZE"), "2");
    EXPECT_EQ(spec.env.at("MASTER_ADDR"), "10.0.0.1");
    EXPECT_EQ(spec.env.at("MASTER_PORT"), "29500");
  }
}

TEST(NodeRankSpecs, CpuRanksRunOnTheCpuAndCudaFollowsTheLocalRank) {
  WorkerInvocation launcher = ddp_launcher();
  launcher.nproc = 3;
  NodeLayout layout;
  layout.nproc_per_node = 3;
  layout.master_port = 4000;
  const std::vector<RankSpec> ranks = node_rank_specs(launcher, layout, "/bin/dlnest-worker");
  ASSERT_EQ(ranks.size(), 3u);
  EXPECT_EQ(parsed(ranks[2]).device(), "cpu");
  EXPECT_EQ(parsed(ranks[2]).nproc, 0);
  launcher.gpu_from_local_rank = true;
  EXPECT_EQ(parsed(node_rank_specs(launcher, layout, "/bin/dlnest-worker")[2]).device(), "cuda:2");
}

TEST(FreePort, IsAUsablePort) {
  Result<int> port = free_port();
  ASSERT_TRUE(port.is_ok());
  EXPECT_GT(*port, 0);
  EXPECT_LE(*port, 65535);
}

}  // namespace
}  // namespace dlnest
