// Distributed training end to end, with real processes on the CPU (Gloo): the toy project
// (testdata/toy_project, without dropout, so every run is deterministic) trained by 2 ranks with
// batch B against 1 process with batch 2B, checkpoints moving between DDP and single-process
// runs, a failing rank, and two "nodes" on localhost.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "dlnest/save_package.h"
#include "env/path.h"
#include "process/subprocess.h"
#include "testing/temp_dir.h"
#include "worker/launcher.h"
#include "worker/worker_process_test_util.h"

namespace dlnest {
namespace {

using testing::read;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

const std::string kBin = DLNEST_BIN_DIR;

/// The values of a package's last epoch record in metrics.jsonl.
Json last_epoch_values(const std::string& package) {
  const std::vector<Json> epochs = testing::metrics_records(package, "epoch");
  return epochs.empty() ? Json::object() : epochs.back()["values"];
}

/// The file of checkpoint `id` in `package`, as the package names it.
std::string checkpoint_file(const std::string& package, int id) {
  auto opened = SavePackage::open(package);
  Result<std::string> file = opened.is_ok() ? opened->checkpoint_path(id) : opened.status();
  EXPECT_TRUE(file.is_ok()) << file.status().message();
  return file.is_ok() ? *file : "";
}

/// Every tensor of `archive` (nested archives too), by its dotted path after `prefix`.
void collect_tensors(torch::serialize::InputArchive& archive, const std::string& prefix,
                     std::map<std::string, torch::Tensor>& out) {
  for (const std::string& key : archive.keys()) {
    torch::Tensor tensor;
    torch::serialize::InputArchive nested;
    if (archive.try_read(key, tensor) || archive.try_read(key, tensor, /*is_buffer=*/true)) {
      out[prefix + key] = tensor;
    } else if (archive.try_read(key, nested)) {
      collect_tensors(nested, prefix + key + ".", out);
    }
  }
}

/// The tensors of a checkpoint's registered modules, by name ("net.0.weight").
std::map<std::string, torch::Tensor> module_tensors(const std::string& file) {
  torch::serialize::InputArchive archive;
  archive.load_from(file);
  torch::serialize::InputArchive modules;
  archive.read("modules", modules);
  std::map<std::string, torch::Tensor> out;
  collect_tensors(modules, "", out);
  return out;
}

/// Both checkpoints hold the same module tensors, equal within `tolerance` (0: bit for bit).
void expect_same_modules(const std::string& a, const std::string& b, double tolerance) {
  const auto left = module_tensors(a);
  const auto right = module_tensors(b);
  ASSERT_FALSE(left.empty()) << a;
  ASSERT_EQ(left.size(), right.size());
  for (const auto& [key, tensor] : left) {
    ASSERT_TRUE(right.count(key)) << key << " missing in " << b;
    if (tolerance == 0) {
      EXPECT_TRUE(torch::equal(tensor, right.at(key))) << key;
    } else {
      EXPECT_TRUE(torch::allclose(tensor, right.at(key), /*rtol=*/0, tolerance))
          << key << ": largest difference " << (tensor - right.at(key)).abs().max().item<double>();
    }
  }
}

/// Live processes whose command line mentions `text`.
std::vector<std::string> processes_mentioning(const std::string& text) {
  std::vector<std::string> found;
  auto entries = Env::default_env()->list_dir("/proc");
  if (!entries.is_ok()) return found;
  for (const std::string& pid : *entries) {
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = read("/proc/" + pid + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(text) != std::string::npos) found.push_back(pid + ": " + cmdline);
  }
  return found;
}

class DdpE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    ASSERT_TRUE(copy_tree(Env::default_env(), TOY_PROJECT_DIR, project()).is_ok());
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string project() { return dir_->file("toy"); }
  static std::string config() { return path::join(project(), "root_config.json"); }

  /// A deterministic run: no dropout, 2 epochs of 96 samples, `batch` samples per step.
  static std::string freq(const std::string& name, int batch, Json more = Json::object()) {
    Json overrides = {{"seed", 7},     {"dropout", 0.0},           {"epochs", 2},
                      {"samples", 96}, {"validation_samples", 32}, {"batch_size", batch}};
    overrides.update(more);
    return dir_->write("toy/" + name + ".json", overrides.dump());
  }

  static ProcessResult run(const std::vector<std::string>& argv,
                           const std::vector<std::string>& env = {}) {
    std::vector<std::string> full = {"env"};
    full.insert(full.end(), env.begin(), env.end());
    full.insert(full.end(), argv.begin(), argv.end());
    auto result = run_process(full, "");
    EXPECT_TRUE(result.is_ok());
    return result.is_ok() ? *result : ProcessResult{};
  }

  static ProcessResult dlnest(std::vector<std::string> args,
                              const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), kBin + "/dlnest");
    return run(args, env);
  }

  /// `dlnest run --foreground` of the toy project; returns the package folder.
  static std::string run_toy(const std::string& freq_file, const std::vector<std::string>& extra,
                             int expected_exit = 0, const std::vector<std::string>& env = {}) {
    std::vector<std::string> args = {"run", "-c", config(), "-f", freq_file, "--foreground"};
    args.insert(args.end(), extra.begin(), extra.end());
    const ProcessResult r = dlnest(args, env);
    EXPECT_EQ(r.exit_code, expected_exit) << r.output;
    const std::string marker = "[dlnest] save package ";
    const auto at = r.output.find(marker);
    if (at == std::string::npos) return "";
    const auto end = r.output.find('\n', at);
    return r.output.substr(at + marker.size(), end - at - marker.size());
  }

  /// Keeps a copy of the package's checkpoint `id` (a continue replaces it).
  static std::string keep(const std::string& package, int id, const std::string& name) {
    const std::string copy = dir_->file(name);
    EXPECT_TRUE(copy_file(Env::default_env(), checkpoint_file(package, id), copy).is_ok());
    return copy;
  }

  static const std::vector<std::string> kTwoRanks;
  static TempDir* dir_;
};

const std::vector<std::string> DdpE2ETest::kTwoRanks = {"--ddp", "--cpu", "--nproc", "2"};
TempDir* DdpE2ETest::dir_ = nullptr;

TEST_F(DdpE2ETest, TwoRanksTrainLikeOneProcessWithTheDoubleBatch) {
  const std::string single = run_toy(freq("single", 32), {});
  const std::string ddp = run_toy(freq("ddp", 16), kTwoRanks);
  ASSERT_FALSE(single.empty());
  ASSERT_FALSE(ddp.empty());
  // 6 steps of SGD with momentum and a step schedule: the same weights up to float rounding.
  expect_same_modules(checkpoint_file(single, 1), checkpoint_file(ddp, 1), 1e-5);
  // Validation counts are summed over the ranks' shards: the accuracy of the whole set.
  EXPECT_EQ(testing::metrics_records(ddp, "epoch").size(), 2u) << "rank 0 alone writes metrics";
  EXPECT_NEAR(last_epoch_values(ddp)["acc"].get<double>(),
              last_epoch_values(single)["acc"].get<double>(), 1e-9);
  // 2 epochs of 3 steps, each recorded once. The loss, logged with reduce_over_ranks, is the
  // mean of the ranks' losses on their halves of the batch: the loss of the whole batch.
  const std::vector<Json> steps = testing::metrics_records(ddp, "step");
  const std::vector<Json> single_steps = testing::metrics_records(single, "step");
  ASSERT_EQ(steps.size(), 6u);
  ASSERT_EQ(single_steps.size(), 6u);
  bool ranks_differ = false;
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i]["step"], i + 1);
    const double loss = steps[i]["values"]["loss"].get<double>();
    EXPECT_NEAR(loss, single_steps[i]["values"]["loss"].get<double>(), 1e-5) << i;
    // loss_min is logged without reduction: rank 0's own loss.
    ranks_differ |= std::abs(steps[i]["values"]["loss_min"].get<double>() - loss) > 1e-4;
  }
  EXPECT_TRUE(ranks_differ) << "rank 0's loss is not the mean over the ranks";
  EXPECT_NEAR(last_epoch_values(ddp)["loss"].get<double>(),
              last_epoch_values(single)["loss"].get<double>(), 1e-5);
  // Each rank has its output; rank 0's also reaches _output.txt with the launcher's lines.
  for (int rank : {0, 1}) {
    const std::string out = read(path::join(ddp, SavePackage::output_file_for_rank(rank)));
    EXPECT_NE(out.find("as rank " + std::to_string(rank) + " of 2"), std::string::npos) << out;
    EXPECT_NE(out.find("epoch 1 loss"), std::string::npos) << out;
    EXPECT_NE(out.find("[dlnest] finished"), std::string::npos) << out;
  }
  const std::string launcher = read(path::join(ddp, SavePackage::kOutputFile));
  EXPECT_NE(launcher.find("[dlnest] distributed training of " + ddp + ": ranks 0-1 of 2"),
            std::string::npos)
      << launcher;
  EXPECT_NE(launcher.find("as rank 0 of 2"), std::string::npos) << launcher;
  EXPECT_EQ(launcher.find("as rank 1 of 2"), std::string::npos) << launcher;
  EXPECT_NE(launcher.find("[dlnest] all ranks finished"), std::string::npos) << launcher;
  // The checkpoint holds the user's modules under their own names: no wrapper prefix.
  for (const auto& [key, tensor] : module_tensors(checkpoint_file(ddp, 1))) {
    EXPECT_EQ(key.rfind("net.", 0), 0u) << key;
  }
}

TEST_F(DdpE2ETest, CheckpointsMoveBetweenDdpAndSingleProcessRuns) {
  const std::string ddp = run_toy(freq("moves_ddp", 16), kTwoRanks);
  const std::string single = run_toy(freq("moves_single", 32), {});
  ASSERT_FALSE(ddp.empty());
  ASSERT_FALSE(single.empty());
  const std::string straight = keep(ddp, 1, "moves_ddp_state_1.ckpt");

  // A continued DDP run retrains exactly what the uninterrupted one trained.
  ProcessResult r =
      dlnest({"continue", "-r", ddp, "-c", "0", "--foreground", "--ddp", "--cpu", "--nproc", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_same_modules(straight, checkpoint_file(ddp, 1), 0);

  // The DDP checkpoint continues in one process, the single-process one under DDP.
  r = dlnest({"continue", "-r", ddp, "-c", "0", "--foreground"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(read(path::join(ddp, SavePackage::kOutputFile)).find("continuing from checkpoint 0"),
            std::string::npos);
  r = dlnest(
      {"continue", "-r", single, "-c", "0", "--foreground", "--ddp", "--cpu", "--nproc", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(read(path::join(single, SavePackage::output_file_for_rank(1)))
                .find("continuing from checkpoint 0"),
            std::string::npos);
  // Both kinds of checkpoint have the same layout.
  const auto from_ddp = module_tensors(checkpoint_file(ddp, 1));
  const auto from_single = module_tensors(checkpoint_file(single, 1));
  ASSERT_EQ(from_ddp.size(), from_single.size());
  for (const auto& [key, tensor] : from_ddp) EXPECT_TRUE(from_single.count(key)) << key;
}

TEST_F(DdpE2ETest, AFailingRankEndsEveryRankPromptly) {
  const auto start = Clock::now();
  const std::string package = run_toy(freq("fails", 16, {{"epochs", 1000}}), kTwoRanks, 1,
                                      {"TOY_FAIL_AT=ModelOneStep@1:1", "TOY_FAIL_RANK=1"});
  ASSERT_FALSE(package.empty());
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(60));
  EXPECT_NE(read(path::join(package, SavePackage::output_file_for_rank(1)))
                .find("[dlnest] error: stage ModelOneStep (epoch 1, iter 1): injected failure"),
            std::string::npos);
  const std::string launcher = read(path::join(package, SavePackage::kOutputFile));
  EXPECT_NE(launcher.find("[dlnest] rank 1 failed (exit code 1; its output is in _output_1.txt)"),
            std::string::npos)
      << launcher;
  EXPECT_EQ(processes_mentioning(package), std::vector<std::string>());
  // Rank 0 saved epoch 0 before the failure; nothing later.
  EXPECT_EQ(SavePackage::open(package)->checkpoints().latest_id(), 0);
}

TEST_F(DdpE2ETest, TwoNodesOnLocalhostFormOneRun) {
  const std::string package = run_toy(freq("nodes", 16), kTwoRanks);
  ASSERT_FALSE(package.empty());
  const std::string straight = keep(package, 1, "nodes_state_1.ckpt");
  Result<int> port = free_port();
  ASSERT_TRUE(port.is_ok());
  // Two launchers, one rank each, as two machines would start them.
  auto node = [&](int rank) {
    return run({"NNODES=2", "NODE_RANK=" + std::to_string(rank), "NPROC_PER_NODE=1",
                "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + std::to_string(*port),
                kBin + "/dlnest-worker", "train", "--package", package, "--resume", "--checkpoint",
                "0", "--ddp", "--device", "cpu"});
  };
  ProcessResult second;
  std::thread other([&] { second = node(1); });
  const ProcessResult first = node(0);
  other.join();
  EXPECT_EQ(first.exit_code, 0) << first.output;
  EXPECT_EQ(second.exit_code, 0) << second.output;
  const std::string launchers = read(path::join(package, SavePackage::kOutputFile));
  EXPECT_NE(launchers.find("ranks 0-0 of 2"), std::string::npos) << launchers;
  EXPECT_NE(launchers.find("ranks 1-1 of 2"), std::string::npos) << launchers;
  EXPECT_NE(read(path::join(package, SavePackage::output_file_for_rank(1))).find("as rank 1 of 2"),
            std::string::npos);
  expect_same_modules(straight, checkpoint_file(package, 1), 0);
}

/// Where the last "[dlnest] interrupted" line of `file` says the run stopped.
std::string stop_point(const std::string& file) {
  const std::string text = read(file);
  const auto line = text.rfind("[dlnest] interrupted");
  if (line == std::string::npos) return "";
  const auto at = text.find(") at ", line);
  const auto end = text.find_first_of(":\n", at);
  return at == std::string::npos ? "" : text.substr(at + 5, end - at - 5);
}

TEST_F(DdpE2ETest, InterruptedRanksStopAfterTheSameStepAndContinueBitForBit) {
  // Dropout: the ranks draw differently, so a resume inside an epoch needs every rank's RNG.
  const Json slow = {{"dropout", 0.3}, {"epochs", 3}, {"step_ms", 40}};
  const std::string straight = run_toy(freq("stop_straight", 16, slow), kTwoRanks);
  ASSERT_FALSE(straight.empty());
  const std::string package = dir_->file("stopped");
  ASSERT_TRUE(testing::fresh_copy(straight, package).is_ok());
  const std::vector<std::string> ranks = {SavePackage::output_file_for_rank(0),
                                          SavePackage::output_file_for_rank(1)};
  std::mt19937 rng(::testing::UnitTest::GetInstance()->random_seed());
  std::uniform_int_distribution<int> delay_ms(0, 300);
  int interrupts = 0;
  for (bool resume = false;; resume = true) {
    std::vector<std::string> flags = {"--ddp", "--device", "cpu", "--nproc", "2"};
    if (resume) flags.push_back("--resume");
    const pid_t pid = testing::start_worker(kBin + "/dlnest-worker", package, flags, ranks);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    ::kill(-pid, SIGINT);  // the whole group, as a terminal or the server's supervisor does
    const int code = testing::wait_for(pid);
    if (code == 0) break;
    ASSERT_EQ(code, kInterruptedExitCode) << read(path::join(package, SavePackage::kOutputFile));
    ++interrupts;
    const std::string rank0 = stop_point(path::join(package, ranks[0]));
    EXPECT_FALSE(rank0.empty());
    EXPECT_EQ(stop_point(path::join(package, ranks[1])), rank0);
    ASSERT_LT(interrupts, 40);
  }
  EXPECT_EQ(processes_mentioning(package), std::vector<std::string>());
  expect_same_modules(checkpoint_file(straight, -1), checkpoint_file(package, -1), 0);
  EXPECT_EQ(testing::metrics_without_times(package), testing::metrics_without_times(straight));
  std::cout << interrupts << " interrupts" << std::endl;
}

}  // namespace
}  // namespace dlnest
