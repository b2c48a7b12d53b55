// `dlnest new` and the two project templates, trained for real through `dlnest run`.
#include <gtest/gtest.h>

#include <fstream>

#include "dlnest/config.h"
#include "dlnest/env.h"
#include "dlnest/save_package.h"
#include "env/path.h"
#include "process/subprocess.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using testing::TempDir;

ProcessResult dlnest(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {std::string(DLNEST_BIN_DIR) + "/dlnest"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = run_process(argv, "");
  EXPECT_TRUE(result.is_ok());
  return result.is_ok() ? *result : ProcessResult{};
}

/// The metrics.jsonl records of `kind` ("step" or "epoch") of the only package under
/// `project`/Saves.
std::vector<Json> metrics_of(const std::string& project, const std::string& kind) {
  Env* env = Env::default_env();
  auto packages = env->list_dir(path::join(project, "Saves"));
  EXPECT_TRUE(packages.is_ok() && packages->size() == 1u);
  std::vector<Json> out;
  if (!packages.is_ok() || packages->empty()) return out;
  const std::string package = path::join(project, "Saves/" + packages->front());
  std::ifstream in(path::join(package, SavePackage::kMetricsFile));
  for (std::string line; std::getline(in, line);) {
    Json record = Json::parse(line);
    if (record["kind"] == kind) out.push_back(std::move(record));
  }
  return out;
}

TEST(TemplatesTest, NewRefusesAnExistingFolder) {
  TempDir dir;
  const ProcessResult r = dlnest({"new", "-d", dir.path()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, "dlnest: error: dlnest new: " + dir.path() + " already exists\n");
}

TEST(TemplatesTest, NewListsTheGivenPluginsInTheProjectsConfig) {
  TempDir dir;
  const std::string project = dir.file("with_plugins");
  ProcessResult r = dlnest({"new", "-d", project, "-p", "LogInit", "SimpleCMDVisualize"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto config = load_config(path::join(project, "root_config.json"));
  ASSERT_TRUE(config.is_ok()) << config.status().message();
  EXPECT_EQ(config->args["plugins"], Json({"LogInit", "SimpleCMDVisualize"}));
  EXPECT_EQ(config->args["plugins_config"]["LogInit"], Json({{"level", "INFO"}}));
  r = dlnest({"new", "-d", dir.file("bad"), "-p", "Log/Init"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, "dlnest: error: dlnest new: plugins: \"Log/Init\" is not a plugin name "
                      "(a C++ class name)\n");
}

TEST(TemplatesTest, TheEmptyTemplateTrainsOutOfTheBox) {
  TempDir dir;
  const std::string project = dir.file("mine");
  ProcessResult r = dlnest({"new", "-d", project});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = dlnest({"run", "-c", path::join(project, "root_config.json"), "--foreground"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto config = load_config(path::join(project, "root_config.json"));
  ASSERT_TRUE(config.is_ok());
  const std::vector<Json> metrics = metrics_of(project, "epoch");
  EXPECT_EQ(metrics.size(), config->args["epochs"].get<size_t>());
  for (const Json& step : metrics_of(project, "step")) {
    EXPECT_TRUE(step["values"]["loss"].is_number()) << step;
  }
}

TEST(TemplatesTest, TheMnistTemplateHasTheDocumentedLayoutAndLearns) {
  TempDir dir;
  const std::string project = dir.file("fmnist");
  ProcessResult r = dlnest({"new", "-d", project, "--mnist"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* file :
       {"CMakeLists.txt", "root_config.json", "model_config.json", "dataset_config.json",
        "common_config.json", "freq_config.json", "LifeCycle.cpp", "Model/Runner.cpp",
        "Model/MNISTCNN.h", "Dataset/Dataset.cpp", "AnalyzeScripts/getAcc.cpp",
        "AnalyzeScripts/showModel.cpp"}) {
    EXPECT_TRUE(Env::default_env()->file_exists(path::join(project, file))) << file;
  }
  const std::string freq = dir.write(
      "quick.json", R"({"train_subset": 2048, "test_subset": 512, "epochs": 2})");
  r = dlnest({"run", "-c", path::join(project, "root_config.json"), "-f", freq, "--foreground"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::vector<Json> metrics = metrics_of(project, "epoch");
  ASSERT_EQ(metrics.size(), 2u);
  // Ten classes: chance is 10%; two short epochs on 2,048 images get well past it.
  EXPECT_GT(metrics[1]["values"]["acc"].get<double>(), 0.6) << metrics[1];
  // Every step logs its loss and learning rate; the epoch record has the mean loss, lower in
  // the second epoch.
  const std::vector<Json> steps = metrics_of(project, "step");
  ASSERT_FALSE(steps.empty());
  EXPECT_EQ(steps.back()["step"], steps.size());
  for (const char* name : {"loss", "lr"}) EXPECT_TRUE(steps.back()["values"][name].is_number());
  EXPECT_LT(metrics[1]["values"]["loss"].get<double>(), metrics[0]["values"]["loss"].get<double>());
}

}  // namespace
}  // namespace dlnest
