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

/// The metrics lines of the only package under `project`/Saves.
std::vector<Json> metrics_of(const std::string& project) {
  Env* env = Env::default_env();
  auto packages = env->list_dir(path::join(project, "Saves"));
  EXPECT_TRUE(packages.is_ok() && packages->size() == 1u);
  std::vector<Json> out;
  if (!packages.is_ok() || packages->empty()) return out;
  const std::string package = path::join(project, "Saves/" + packages->front());
  std::ifstream in(path::join(package, SavePackage::kMetricsFile));
  for (std::string line; std::getline(in, line);) out.push_back(Json::parse(line));
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
  const std::vector<Json> metrics = metrics_of(project);
  EXPECT_EQ(metrics.size(), config->args["epochs"].get<size_t>());
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
  const std::vector<Json> metrics = metrics_of(project);
  ASSERT_EQ(metrics.size(), 2u);
  // Ten classes: chance is 10%; two short epochs on 2,048 images get well past it.
  EXPECT_GT(metrics[1]["acc"].get<double>(), 0.6) << metrics[1];
}

}  // namespace
}  // namespace dlnest
