// End to end, with real processes: `dlnest run` builds the toy project (testdata/toy_project),
// creates its save package and trains it in the worker; `dlnest continue` resumes it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include "dlnest/save_package.h"
#include "env/path.h"
#include "process/subprocess.h"
#include "testing/temp_dir.h"
#include "worker/launcher.h"
#include "worker/worker_process_test_util.h"

namespace dlnest {
namespace {

using testing::metrics_records;
using testing::metrics_without_times;
using testing::TempDir;
using testing::wait_for;
using testing::lines_of;
using testing::read;

const std::string kBin = DLNEST_BIN_DIR;

/// The rows of `package`'s metrics.csv without their time column (which differs from run to run)
/// and without the epochs' seconds.
std::vector<std::string> csv_without_times(const std::string& package) {
  std::vector<std::string> out;
  for (const std::string& row : lines_of(path::join(package, MetricsLog::kCsvFile))) {
    std::vector<std::string> fields;
    std::istringstream in(row);
    for (std::string field; std::getline(in, field, ',');) fields.push_back(field);
    if (fields.size() != 6 || fields[4] == "seconds") continue;
    out.push_back(fields[0] + "," + fields[1] + "," + fields[2] + "," + fields[4] + "," + fields[5]);
  }
  return out;
}

/// "tag step value" lines of TensorBoard's own reader for the event files of `package`, without
/// the epochs' seconds; empty when build/pyenv has no TensorBoard (scripts/python_env.sh).
std::string tensorboard_scalars(const std::string& package) {
  const std::string dir = path::join(package, MetricsLog::kTensorBoardDir);
  const std::string command = std::string(DLNEST_PYENV_PYTHON) + " " + READ_EVENTS_PY + " " +
                              dir + " 2>/dev/null | grep -v '^epoch/seconds '";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  std::string out;
  std::array<char, 4096> buf;
  while (pipe && std::fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
  return out;
}

/// The file of checkpoint `id` in `package`, as the package names it.
std::string checkpoint_file(const std::string& package, int id) {
  auto opened = SavePackage::open(package);
  Result<std::string> file = opened.is_ok() ? opened->checkpoint_path(id) : opened.status();
  EXPECT_TRUE(file.is_ok()) << file.status().message();
  return file.is_ok() ? *file : "";
}

/// Every tensor and value of a checkpoint archive, by its dotted path.
void flatten(torch::serialize::InputArchive& archive, const std::string& prefix,
             std::map<std::string, c10::IValue>& out) {
  for (const std::string& key : archive.keys()) {
    torch::Tensor tensor;
    torch::serialize::InputArchive nested;
    c10::IValue value;
    if (archive.try_read(key, tensor) || archive.try_read(key, tensor, /*is_buffer=*/true)) {
      out[prefix + key] = tensor;
    } else if (archive.try_read(key, nested)) {
      flatten(nested, prefix + key + ".", out);
    } else if (archive.try_read(key, value)) {
      out[prefix + key] = value;
    }
  }
}

/// libtorch names optimizer parameters by their address in the saving process: replace each
/// address by the parameter's position, "params/<i>".
std::map<std::string, c10::IValue> canonical(const std::map<std::string, c10::IValue>& in) {
  std::map<std::string, std::string> position;
  for (const auto& [key, value] : in) {
    const auto at = key.find(".params/");
    if (at != std::string::npos && value.isString()) {
      position[value.toStringRef()] = key.substr(at + 1);
    }
  }
  std::map<std::string, c10::IValue> out;
  for (const auto& [original, value] : in) {
    if (original.find(".params/") != std::string::npos) continue;
    std::string key = original;
    for (const auto& [address, name] : position) {
      const auto at = key.find("." + address + ".");
      if (at != std::string::npos) key.replace(at + 1, address.size(), name);
    }
    out[key] = value;
  }
  return out;
}

std::map<std::string, c10::IValue> load_checkpoint(const std::string& file) {
  torch::serialize::InputArchive archive;
  archive.load_from(file);
  std::map<std::string, c10::IValue> out;
  flatten(archive, "", out);
  return canonical(out);
}

void expect_same_checkpoint(const std::string& a, const std::string& b) {
  const auto left = load_checkpoint(a);
  const auto right = load_checkpoint(b);
  ASSERT_EQ(left.size(), right.size());
  ASSERT_GT(left.size(), 10u);
  for (const auto& [key, value] : left) {
    ASSERT_TRUE(right.count(key)) << key;
    const c10::IValue& other = right.at(key);
    if (value.isTensor()) {
      EXPECT_TRUE(torch::equal(value.toTensor(), other.toTensor())) << key;
    } else if (value.isString()) {
      EXPECT_EQ(value.toStringRef(), other.toStringRef()) << key;
    } else if (value.isInt()) {
      EXPECT_EQ(value.toInt(), other.toInt()) << key;
    } else if (value.isDouble()) {
      EXPECT_EQ(value.toDouble(), other.toDouble()) << key;
    } else if (value.isBool()) {
      EXPECT_EQ(value.toBool(), other.toBool()) << key;
    } else {
      ADD_FAILURE() << key << " holds an unexpected " << value.tagKind();
    }
  }
}

class TrainE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    ASSERT_TRUE(copy_tree(Env::default_env(), TOY_PROJECT_DIR, project()).is_ok());
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string project() { return dir_->file("toy"); }
  static std::string config() { return path::join(project(), "root_config.json"); }

  /// Writes a freq file into the project and returns its path.
  static std::string freq(const std::string& name, const Json& overrides) {
    return dir_->write("toy/" + name + ".json", overrides.dump());
  }

  /// Runs `dlnest args...` (with `env` settings such as "TOY_FAIL_AT=...").
  static ProcessResult dlnest(const std::vector<std::string>& args,
                              const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {"env"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.push_back(kBin + "/dlnest");
    argv.insert(argv.end(), args.begin(), args.end());
    auto result = run_process(argv, "");
    EXPECT_TRUE(result.is_ok());
    return result.is_ok() ? *result : ProcessResult{};
  }

  /// `dlnest run` on the toy project with a freq file; returns the package folder.
  static std::string run_toy(const std::string& freq_file, int expected_exit = 0,
                             const std::vector<std::string>& env = {}) {
    const ProcessResult r = dlnest({"run", "-c", config(), "-f", freq_file, "--foreground"}, env);
    EXPECT_EQ(r.exit_code, expected_exit) << r.output;
    const std::string marker = "[dlnest] save package ";
    const auto at = r.output.find(marker);
    if (at == std::string::npos) return "";
    const auto end = r.output.find('\n', at);
    return r.output.substr(at + marker.size(), end - at - marker.size());
  }

  /// A copy of `package` as it was before it trained (see testing::fresh_copy).
  static std::string fresh_copy(const std::string& package, const std::string& name,
                                const Json& overrides = Json::object()) {
    const std::string copy = dir_->file(name);
    EXPECT_TRUE(testing::fresh_copy(package, copy, overrides).is_ok());
    return copy;
  }

  static pid_t start_worker(const std::string& package, const std::vector<std::string>& flags) {
    return testing::start_worker(kBin + "/dlnest-worker", package, flags,
                                 {SavePackage::kOutputFile});
  }

  static TempDir* dir_;
};

TempDir* TrainE2ETest::dir_ = nullptr;

// Steps, validation batches and saves take a few milliseconds each, so that random signals land
// in all of them.
const Json kSlowRun = {{"seed", 23}, {"epochs", 3}, {"step_ms", 12}, {"save_ms", 30}};
constexpr int kMinInterrupts = 20;

TEST_F(TrainE2ETest, RunsInterruptedAnywhereContinueToTheUninterruptedResult) {
  const std::string straight = run_toy(freq("slow", kSlowRun));
  ASSERT_FALSE(straight.empty());
  std::mt19937 rng(::testing::UnitTest::GetInstance()->random_seed());
  std::uniform_int_distribution<int> delay_ms(0, 150);
  std::map<std::string, int> stops;  // where the interrupts stopped, for the log
  int interrupts = 0;
  for (int campaign = 0; interrupts < kMinInterrupts; ++campaign) {
    const std::string package = fresh_copy(straight, "interrupted_" + std::to_string(campaign));
    const std::string output = path::join(package, SavePackage::kOutputFile);
    for (bool resume = false;; resume = true) {
      const pid_t pid = start_worker(package, resume ? std::vector<std::string>{"--resume"}
                                                     : std::vector<std::string>{});
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
      ::kill(pid, interrupts % 3 == 2 ? SIGTERM : SIGINT);
      const int code = wait_for(pid);
      if (code == 0) break;  // it had finished
      ASSERT_EQ(code, kInterruptedExitCode) << read(output);
      ++interrupts;
      const std::vector<std::string> lines = lines_of(output);
      ASSERT_FALSE(lines.empty());
      ASSERT_NE(lines.back().find("[dlnest] interrupted (SIG"), std::string::npos) << lines.back();
      ASSERT_NE(lines.back().find(": saved interrupt checkpoint "), std::string::npos);
      ++stops[lines.back().substr(lines.back().find(") at ") + 5,
                                  lines.back().find(':') - lines.back().find(") at ") - 5)];
      auto opened = SavePackage::open(package);
      ASSERT_TRUE(opened.is_ok());
      ASSERT_EQ(opened->checkpoints().tracks().interrupt.size(), 1u);
      EXPECT_EQ(opened->checkpoints().latest_id(), opened->checkpoints().tracks().interrupt[0]);
    }
    expect_same_checkpoint(checkpoint_file(straight, -1), checkpoint_file(package, -1));
    EXPECT_EQ(metrics_without_times(package), metrics_without_times(straight));
    EXPECT_TRUE(SavePackage::open(package)->checkpoints().tracks().interrupt.empty());
  }
  std::string where;
  for (const auto& [at, n] : stops) where += " [" + at + "] x" + std::to_string(n);
  std::cout << interrupts << " interrupts, stopped at" << where << std::endl;
}

TEST_F(TrainE2ETest, PeriodicSavesInsideAnEpochResumeExactly) {
  const std::string straight = run_toy(freq("every_straight", {{"seed", 31}}));
  const std::string periodic = run_toy(freq(
      "every_steps", {{"seed", 31}, {"checkpoint_args", {{"every_steps", 2}}}}));
  ASSERT_FALSE(periodic.empty());
  // 6 steps an epoch: saves after steps 2 and 4, then at the epoch's end; the fast track keeps 8.
  EXPECT_EQ(SavePackage::open(periodic)->checkpoints().tracks().ids(),
            (std::vector<int>{4, 5, 6, 7, 8, 9, 10, 11}));
  const auto inside = load_checkpoint(checkpoint_file(periodic, 6));
  EXPECT_EQ(inside.at("dlnest_epoch").toInt(), 1);
  EXPECT_EQ(inside.at("dlnest_next_iter").toInt(), 2);
  expect_same_checkpoint(checkpoint_file(straight, -1), checkpoint_file(periodic, -1));

  const ProcessResult resumed = dlnest({"continue", "-r", periodic, "-c", "6", "--foreground"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  expect_same_checkpoint(checkpoint_file(straight, -1), checkpoint_file(periodic, 11));
}

TEST_F(TrainE2ETest, ASecondSignalEndsTheWorkerAtOnce) {
  const std::string package =
      fresh_copy(run_toy(freq("second", {{"epochs", 1}})), "second_signal", {{"step_ms", 3000}});
  const pid_t pid = start_worker(package, {});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  ::kill(pid, SIGINT);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ::kill(pid, SIGINT);
  EXPECT_EQ(wait_for(pid), 128 + SIGINT);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
}

TEST_F(TrainE2ETest, ProgressJsonFollowsTheRunAndEndsFinishedWithALinePerTenth) {
  // 25 steps an epoch (400 samples in batches of 16), 2 epochs, 20 ms a step.
  const std::string package =
      fresh_copy(run_toy(freq("progress", {{"epochs", 1}})), "progress",
                 {{"epochs", 2}, {"samples", 400}, {"step_ms", 20}});
  const std::string file = path::join(package, "progress.json");
  Env::default_env()->remove_file(file);  // the first run's
  const pid_t pid = start_worker(package, {});
  std::set<std::pair<int, int>> seen;  // (epoch, step) of the records read while it ran
  bool timed = false;
  while (::waitpid(pid, nullptr, WNOHANG) == 0) {
    const Json p = Json::parse(read(file), nullptr, /*allow_exceptions=*/false);
    if (p.is_object() && p["stage"] == "train" && p["epoch"].is_number()) {
      seen.emplace(p["epoch"].get<int>(), p["step"].get<int>());
      EXPECT_EQ(p["pid"], pid);
      timed = timed || (p["it_per_s"].is_number() && p["eta_run_s"].is_number());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(seen.size(), 3u) << "the record moved while the run went on";
  EXPECT_TRUE(timed) << "a record had the rate and the run's ETA";
  const Json last = Json::parse(read(file));
  EXPECT_EQ(last["stage"], "finished") << last;
  EXPECT_EQ(last["epoch"], 1) << last;
  EXPECT_EQ(last["epochs"], 2) << last;
  EXPECT_EQ(last["step"], 25) << last;
  EXPECT_EQ(last["steps_per_epoch"], 25) << last;
  EXPECT_EQ(last["fraction"], 1.0) << last;
  EXPECT_EQ(last["eta_run_s"], 0.0) << last;
  EXPECT_TRUE(last["scalars"]["loss"].is_number()) << last;
  EXPECT_FALSE(Env::default_env()->file_exists(file + ".tmp"));
  // Without a terminal, a progress line per tenth of an epoch.
  const std::vector<std::string> lines = lines_of(path::join(package, SavePackage::kOutputFile));
  std::vector<std::string> progress;
  for (const std::string& line : lines) {
    if (line.rfind("[dlnest] epoch ", 0) == 0) progress.push_back(line);
  }
  ASSERT_EQ(progress.size(), 20u) << read(path::join(package, SavePackage::kOutputFile));
  EXPECT_EQ(progress[0].rfind("[dlnest] epoch 1/2 | 3/25 | ", 0), 0u) << progress[0];
  EXPECT_EQ(progress[19].rfind("[dlnest] epoch 2/2 | 25/25 | ", 0), 0u) << progress[19];
}

TEST_F(TrainE2ETest, AFailedRunEndsItsProgressFailed) {
  const std::string package = fresh_copy(run_toy(freq("progress_failed", {{"epochs", 1}})),
                                         "progress_failed", {{"runner_name", "NoSuchRunner"}});
  auto r = run_process({kBin + "/dlnest-worker", "train", "--package", package}, "");
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->exit_code, 1);
  EXPECT_EQ(Json::parse(read(path::join(package, "progress.json")))["stage"], "failed");
}

TEST_F(TrainE2ETest, RunBuildsTrainsAndFillsThePackage) {
  const std::string package = run_toy(freq("plain", Json::object()));
  ASSERT_FALSE(package.empty());
  for (const char* file : {SavePackage::kPluginFile, "CMakeLists.txt", "toy_runner.cpp",
                           "toy_life_cycle.cpp", "root_config.json", "plain.json"}) {
    EXPECT_TRUE(Env::default_env()->file_exists(path::join(package, file))) << file;
  }
  const Json args = Json::parse(read(path::join(package, SavePackage::kArgsFile)));
  EXPECT_TRUE(args["seed"].is_number_unsigned()) << "a seed is drawn and recorded";
  EXPECT_EQ(args["root_file_path"], package);
  const std::string output = read(path::join(package, SavePackage::kOutputFile));
  EXPECT_NE(output.find("epoch 3 loss"), std::string::npos) << output;
  EXPECT_NE(output.find("[dlnest] finished"), std::string::npos) << output;
  const std::vector<Json> epochs = metrics_records(package, "epoch");
  ASSERT_EQ(epochs.size(), 4u);
  EXPECT_EQ(epochs[3]["epoch"], 3);
  EXPECT_TRUE(epochs[3]["values"]["acc"].is_number());
  auto opened = SavePackage::open(package);
  ASSERT_TRUE(opened.is_ok());
  EXPECT_EQ(opened->checkpoints().tracks().ids(), (std::vector<int>{0, 1, 2, 3}));
}

TEST_F(TrainE2ETest, ContinueAfterACrashReproducesTheUninterruptedRun) {
  const std::string seeded = freq("seeded", {{"seed", 11}});
  const std::string straight = run_toy(seeded);
  const std::string crashed = run_toy(seeded, 1, {"TOY_FAIL_AT=OneEpoch@2"});
  ASSERT_FALSE(crashed.empty());
  const std::string first_output = read(path::join(crashed, SavePackage::kOutputFile));
  EXPECT_NE(first_output.find("[dlnest] error: stage OneEpoch (epoch 2): injected failure"),
            std::string::npos)
      << first_output;
  EXPECT_EQ(SavePackage::open(crashed)->checkpoints().latest_id(), 1);

  const ProcessResult resumed = dlnest({"continue", "-r", crashed, "--foreground"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const std::string output = read(path::join(crashed, SavePackage::kOutputFile));
  EXPECT_EQ(output.rfind(first_output, 0), 0u) << "the continued run appends its output";
  expect_same_checkpoint(checkpoint_file(straight, 3), checkpoint_file(crashed, 3));
  EXPECT_EQ(metrics_records(straight, "epoch").size(), 4u);
  EXPECT_EQ(metrics_without_times(crashed), metrics_without_times(straight));
}

TEST_F(TrainE2ETest, LoggedScalarsGiveStepRecordsAndEpochAggregates) {
  const std::string package = run_toy(freq("logged", {{"seed", 3}}));
  ASSERT_FALSE(package.empty());
  const std::vector<Json> steps = metrics_records(package, "step");
  const std::vector<Json> epochs = metrics_records(package, "epoch");
  // 4 epochs of 6 steps: global steps 1 to 24, each once, in order.
  ASSERT_EQ(steps.size(), 24u);
  ASSERT_EQ(epochs.size(), 4u);
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i]["step"], i + 1);
    EXPECT_EQ(steps[i]["epoch"], i / 6);
    EXPECT_EQ(steps[i]["values"].size(), 4u) << steps[i];  // loss, loss_min, loss_max, lr
  }
  for (size_t e = 0; e < epochs.size(); ++e) {
    const Json& values = epochs[e]["values"];
    EXPECT_EQ(epochs[e]["epoch"], e);
    EXPECT_EQ(epochs[e]["step"], 6 * (e + 1)) << "an epoch record is at its last step";
    double sum = 0, low = std::numeric_limits<double>::infinity(), high = -low;
    for (size_t i = 6 * e; i < 6 * (e + 1); ++i) {
      const double loss = steps[i]["values"]["loss"].get<double>();
      sum += loss;
      low = std::min(low, loss);
      high = std::max(high, loss);
    }
    EXPECT_LT(low, high);
    EXPECT_NEAR(values["loss"].get<double>(), sum / 6, 1e-12) << "mean by default";
    EXPECT_EQ(values["loss_min"].get<double>(), low);
    EXPECT_EQ(values["loss_max"].get<double>(), high);
    EXPECT_EQ(values["lr"], steps[6 * e + 5]["values"]["lr"]) << "the last value";
    EXPECT_EQ(values["val_acc"], values["acc"]) << "log_epoch, and the Json log's last acc";
    EXPECT_GT(values["seconds"].get<double>(), 0);
  }
  // The learning rate halves after step 5: the epoch's last value is not its mean.
  EXPECT_EQ(epochs[0]["values"]["lr"].get<double>(), 0.05);
  // metrics.csv: one row per value of every record, as in metrics.jsonl (9 significant digits).
  const std::vector<std::string> rows = lines_of(path::join(package, MetricsLog::kCsvFile));
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows[0], "kind,epoch,step,time,name,value");
  size_t values = 0;
  for (const Json& record : metrics_records(package)) values += record["values"].size();
  EXPECT_EQ(rows.size(), values + 1);
  const std::vector<std::string> csv = csv_without_times(package);
  ASSERT_GE(csv.size(), 2u);
  char loss[32];
  std::snprintf(loss, sizeof loss, "%.9g", steps[0]["values"]["loss"].get<double>());
  EXPECT_EQ(csv[1], std::string("step,0,1,loss,") + loss) << "the header, then step 1's rows";
}

TEST_F(TrainE2ETest, AContinuedRunRecordsEveryStepOnce) {
  const std::string seeded = freq("once", {{"seed", 19}});
  const std::string straight = run_toy(seeded);
  const std::string crashed = run_toy(seeded, 1, {"TOY_FAIL_AT=ModelOneStep@2:3"});
  ASSERT_FALSE(crashed.empty());
  // Steps 13 to 15 were recorded after the last checkpoint (epoch 1's end at step 12).
  ASSERT_EQ(metrics_records(crashed, "step").size(), 15u);
  const ProcessResult resumed = dlnest({"continue", "-r", crashed, "--foreground"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(metrics_records(crashed, "step").size(), 24u);
  EXPECT_EQ(metrics_without_times(crashed), metrics_without_times(straight));
  EXPECT_EQ(csv_without_times(crashed), csv_without_times(straight));
  if (::access(DLNEST_PYENV_PYTHON, X_OK) != 0) {
    GTEST_SKIP() << "no Python with TensorBoard at " << DLNEST_PYENV_PYTHON
                 << " (scripts/python_env.sh makes it)";
  }
  const std::string events = tensorboard_scalars(straight);
  EXPECT_NE(events.find("\nloss 24 "), std::string::npos) << events;
  EXPECT_NE(events.find("\nepoch/loss 24 "), std::string::npos) << events;
  EXPECT_EQ(tensorboard_scalars(crashed), events) << "TensorBoard sees each step once";
}

TEST_F(TrainE2ETest, ContinueFromAnOlderCheckpointRetrainsTheSameWeights) {
  const std::string package = run_toy(freq("older", {{"seed", 5}}));
  const std::string original = dir_->file("state_3_before.ckpt");
  ASSERT_TRUE(copy_file(Env::default_env(), checkpoint_file(package, 3), original).is_ok());
  const ProcessResult resumed = dlnest({"continue", "-r", package, "-c", "1", "--foreground"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("continuing from checkpoint 1"), std::string::npos);
  expect_same_checkpoint(original, checkpoint_file(package, 3));
}

/// The hook and decision calls of a run with 2 epochs, 2 training batches and 1 validation batch.
std::vector<std::string> expected_hooks(const std::vector<std::string>& skip) {
  std::vector<std::string> out;
  auto stage = [&](const std::string& tag, const std::function<void()>& body) {
    out.push_back("before " + tag);
    if (std::find(skip.begin(), skip.end(), tag) == skip.end()) body();
    out.push_back("after " + tag);
  };
  stage("All@-1", [&] {
    stage("DatasetInit@-1", [] {});
    stage("ModelInit@-1", [] {});
    stage("Train@-1", [&] {
      for (int e = 0; e < 2; ++e) {
        const std::string ep = std::to_string(e);
        stage("OneEpoch@" + ep, [&] {
          for (int i = 0; i < 2; ++i) stage("ModelOneStep@" + ep + ":" + std::to_string(i), [] {});
        });
        out.push_back("command_line_output " + ep);
        out.push_back("need_validation " + ep);
        stage("Validation@" + ep, [&] {
          stage("ValidateABatch@" + ep + ":0", [] {});
          stage("ValidationAnalyze@" + ep, [] {});
        });
        out.push_back("need_save_model " + ep);
        stage("SaveModel@" + ep, [&] { out.push_back("hold_this_checkpoint " + ep); });
        out.push_back("need_continue_train " + ep);
      }
    });
  });
  return out;
}

const Json kHookRun = {{"record_hooks", true}, {"epochs", 2}, {"samples", 32},
                       {"validation_samples", 16}, {"batch_size", 16}};

TEST_F(TrainE2ETest, HooksRunInTheDocumentedOrder) {
  const std::string package = run_toy(freq("hooks", kHookRun));
  EXPECT_EQ(lines_of(path::join(package, "hooks.txt")), expected_hooks({}));
}

TEST_F(TrainE2ETest, SkipSkipsTheStageButNotItsAfterHook) {
  const std::vector<std::string> skip = {"OneEpoch@0", "ValidateABatch@1:0", "SaveModel@1",
                                         "ModelOneStep@1:1"};
  Json overrides = kHookRun;
  overrides["skip"] = skip;
  const std::string package = run_toy(freq("skips", overrides));
  EXPECT_EQ(lines_of(path::join(package, "hooks.txt")), expected_hooks(skip));
  // Epoch 0 was skipped but still counted: epoch 1 trained one step and was not saved.
  EXPECT_EQ(SavePackage::open(package)->checkpoints().tracks().ids(), (std::vector<int>{0}));
  EXPECT_EQ(metrics_records(package, "epoch").size(), 2u);
}

TEST_F(TrainE2ETest, ACompileErrorIsShownAndNoPackageIsMade) {
  TempDir broken;
  ASSERT_TRUE(copy_tree(Env::default_env(), TOY_PROJECT_DIR, broken.file("toy")).is_ok());
  std::ofstream(broken.file("toy/toy_life_cycle.cpp"), std::ios::app) << "this does not compile\n";
  const ProcessResult r =
      dlnest({"run", "-c", broken.file("toy/root_config.json"), "--foreground"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("toy_life_cycle.cpp"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("error:"), std::string::npos) << r.output;
  EXPECT_FALSE(Env::default_env()->file_exists(broken.file("toy/Saves")));
}

TEST_F(TrainE2ETest, TheWorkerRefusesAPluginBuiltForAnotherLibtorch) {
  const std::string package = run_toy(freq("refuse", {{"epochs", 1}}));
  Env* env = Env::default_env();
  const std::string plugin = path::join(package, SavePackage::kPluginFile);
  ASSERT_TRUE(copy_file(env, WRONG_ABI_PLUGIN, plugin).is_ok());
  const std::string mark = dir_->file("wrong_abi_ran");
  ProcessResult r = dlnest({"continue", "-r", package, "--foreground"}, {"WRONG_ABI_MARK=" + mark});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("was built against SDK"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("libtorch 99.1.0"), std::string::npos) << r.output;
  EXPECT_FALSE(env->file_exists(mark)) << "no code of a refused plugin runs";

  ASSERT_TRUE(write_file_atomically(env, plugin, "not a shared object").is_ok());
  r = dlnest({"continue", "-r", package, "--foreground"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("cannot load plugin " + plugin), std::string::npos) << r.output;
}

TEST_F(TrainE2ETest, ContinueNeedsACheckpoint) {
  SavePackage empty(Json{{"save_root", dir_->file("empty_saves")}});
  ASSERT_TRUE(empty.save_to_new_dir(PackageOptions().with_copy_files(false)).is_ok());
  const ProcessResult r = dlnest({"continue", "-r", empty.root(), "--foreground"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("has no checkpoint"), std::string::npos) << r.output;
  const ProcessResult missing = dlnest({"continue", "-r", dir_->file("nowhere"), "--foreground"});
  EXPECT_NE(missing.output.find("no such folder"), std::string::npos) << missing.output;
}

TEST_F(TrainE2ETest, MistakesInArgsAreRefusedBeforeAnyUserCodeRuns) {
  const std::string trained = run_toy(freq("mistakes", {{"epochs", 1}}));
  const std::string worker = kBin + "/dlnest-worker";
  const Json cases[][2] = {
      {{{"runner_name", "NoSuchRunner"}},
       "[dlnest] error: runner_name \"NoSuchRunner\" is not registered by the project "
       "(registered: ToyRunner)"},
      {{{"epochs", "ten"}}, "args.json: \"epochs\" must be a non-negative integer, got string"},
  };
  for (size_t i = 0; i < std::size(cases); ++i) {
    Json overrides = cases[i][0];
    overrides["record_hooks"] = true;
    const std::string package = fresh_copy(trained, "mistake_" + std::to_string(i), overrides);
    auto r = run_process({worker, "train", "--package", package}, "");
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r->exit_code, 1);
    const std::string output = read(path::join(package, SavePackage::kOutputFile));
    EXPECT_NE(output.find(cases[i][1].get<std::string>()), std::string::npos) << output;
    EXPECT_FALSE(Env::default_env()->file_exists(path::join(package, "hooks.txt")))
        << "no hook ran";
  }
}

/// Trains `package` with its Checkpoints/ on a tmpfs of `bytes`, in a user and mount namespace
/// of its own; what the tmpfs held is copied to `kept` before it goes. Exit 77: not permitted.
ProcessResult train_on_small_disk(const std::string& package, size_t bytes,
                                  const std::string& kept) {
  const std::string script =
      "mount -t tmpfs -o size=" + std::to_string(bytes) +
      " tmpfs \"$1/Checkpoints\" || exit 77; \"$2\" train --package \"$1\"; rc=$?; "
      "cp -a \"$1/Checkpoints/.\" \"$3\"; exit $rc";
  auto r = run_process({"unshare", "-rm", "sh", "-c", script, "sh", package,
                        kBin + "/dlnest-worker", kept},
                       "");
  return r.is_ok() ? *r : ProcessResult{77, r.status().message()};
}

TEST_F(TrainE2ETest, AFullDiskFailsTheSaveNamingTheFileAndKeepsTheCheckpointsBefore) {
  const std::string trained = run_toy(freq("full_disk", {{"epochs", 3}}));
  Env* env = Env::default_env();
  const size_t page = 4096;
  const size_t pages = (read(checkpoint_file(trained, 0)).size() + page - 1) / page;
  const std::string package = fresh_copy(trained, "full_disk");
  const std::string kept = dir_->file("full_disk_kept");
  ASSERT_TRUE(env->create_dirs(path::join(package, SavePackage::kCheckpointsDir)).is_ok());
  ASSERT_TRUE(env->create_dirs(kept).is_ok());
  // Room for one checkpoint, not for two.
  const ProcessResult r = train_on_small_disk(package, (pages + pages / 2) * page, kept);
  if (r.exit_code == 77) GTEST_SKIP() << "no tmpfs in a user namespace here: " << r.output;
  EXPECT_EQ(r.exit_code, 1) << r.output;
  const std::string output = read(path::join(package, SavePackage::kOutputFile));
  EXPECT_NE(output.find("[dlnest] error: stage SaveModel (epoch 1): cannot save checkpoint: "
                        "cannot write " +
                        path::join(package, "Checkpoints/state_1.ckpt.tmp") +
                        ": No space left on device"),
            std::string::npos)
      << output;
  auto names = env->list_dir(kept);
  ASSERT_TRUE(names.is_ok());
  EXPECT_EQ(*names, std::vector<std::string>{"state_0.ckpt"}) << "the temporary file is gone";
  EXPECT_EQ(SavePackage::open(package)->checkpoints().tracks().ids(), std::vector<int>{0});
  EXPECT_GT(load_checkpoint(path::join(kept, "state_0.ckpt")).size(), 10u);
}

}  // namespace
}  // namespace dlnest
