// End to end, with real processes: `dlnest run` builds the toy project (testdata/toy_project),
// creates its save package and trains it in the worker; `dlnest continue` resumes it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <map>

#include "dlnest/save_package.h"
#include "env/path.h"
#include "process/subprocess.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using testing::TempDir;

const std::string kBin = DLNEST_BIN_DIR;

std::string read(const std::string& file) {
  auto data = Env::default_env()->read_file(file);
  return data.is_ok() ? *data : "";
}

std::vector<std::string> lines_of(const std::string& file) {
  std::vector<std::string> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
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

  static TempDir* dir_;
};

TempDir* TrainE2ETest::dir_ = nullptr;

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
  const std::vector<std::string> metrics = lines_of(path::join(package, SavePackage::kMetricsFile));
  ASSERT_EQ(metrics.size(), 4u);
  EXPECT_EQ(Json::parse(metrics[3])["epoch"], 3);
  EXPECT_TRUE(Json::parse(metrics[3])["acc"].is_number());
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
  EXPECT_EQ(lines_of(path::join(straight, SavePackage::kMetricsFile)).size(), 4u);
  EXPECT_EQ(lines_of(path::join(crashed, SavePackage::kMetricsFile)).size(), 4u);
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
  EXPECT_EQ(lines_of(path::join(package, SavePackage::kMetricsFile)).size(), 2u);
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
  ProcessResult r = dlnest({"continue", "-r", package, "--foreground"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("was built against SDK"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("libtorch 99.1.0"), std::string::npos) << r.output;

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

}  // namespace
}  // namespace dlnest
