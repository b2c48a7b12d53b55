#include "dlnest/save_package.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <regex>
#include <set>

#include "env/path.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using testing::TempDir;

Env* env() { return Env::default_env(); }

std::string read(const std::string& file) {
  auto data = env()->read_file(file);
  EXPECT_TRUE(data.is_ok()) << data.status().to_string();
  return data.is_ok() ? *data : "";
}

std::vector<std::string> list(const std::string& dir) {
  auto names = env()->list_dir(dir);
  return names.is_ok() ? *names : std::vector<std::string>{};
}

class SavePackageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    outside_ = dir_.write("elsewhere/common.h", "// common\n");
    dir_.write("proj/root_config.json", R"({
      "save_root": "../Saves", "runner_name": "Runner", "dataset_name": "Dataset",
      "life_cycle_name": "LifeCycle",
      "checkpoint_args": {"max_ckpt_in_slow_track": 0, "dilation_in_slow_track": 100,
                          "max_ckpt_in_fast_track": 2, "max_ckpt_in_consistent_track": 1},
      "root_file_path": ".", "runner_file_path": "./Model/Runner.cpp",
      "dataset_file_path": "./Dataset/Dataset.cpp", "life_cycle_file_path": "./LifeCycle.cpp",
      "other_file_paths": ["./Model/Net.h", "./utils", ")" + outside_ + R"("],
      "child_jsons": ["./model_config.json", "./configs/dataset_config.json"]})");
    dir_.write("proj/model_config.json", R"({"model_config": {"feats": [1, 64]}})");
    dir_.write("proj/configs/dataset_config.json", R"({"dataset_config": {"batch_size": 64}})");
    dir_.write("proj/Model/Runner.cpp", "// runner\n");
    dir_.write("proj/Model/Net.h", "// net\n");
    dir_.write("proj/Dataset/Dataset.cpp", "// dataset\n");
    dir_.write("proj/LifeCycle.cpp", "// life cycle\n");
    dir_.write("proj/utils/a.h", "// a\n");
    dir_.write("proj/utils/deep/b.h", "// b\n");
  }

  SavePackage create(const PackageOptions& options = {}) {
    auto package = SavePackage::from_config(dir_.file("proj/root_config.json"));
    EXPECT_TRUE(package.is_ok()) << package.status().to_string();
    Status s = package->save_to_new_dir(options);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return std::move(*package);
  }

  TempDir dir_;
  std::string outside_;
};

TEST_F(SavePackageTest, CreatesTheOriginalLayout) {
  SavePackage package = create(PackageOptions().with_description("first try"));
  const std::string root = package.root();
  EXPECT_EQ(path::parent(root), dir_.file("Saves"));
  EXPECT_TRUE(std::regex_match(path::base_name(root),
                               std::regex(R"(\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_\d{3})")))
      << root;
  const std::vector<std::string> expected = {
      "Checkpoints", "Dataset",          "LifeCycle.cpp",   "Model",        "_desc: first try",
      "_package.json", "args.json",      "common.h",        "configs",      "model_config.json",
      "root_config.json", "utils"};
  EXPECT_EQ(list(root), expected);
  EXPECT_EQ(read(root + "/Model/Runner.cpp"), "// runner\n");
  EXPECT_EQ(read(root + "/utils/deep/b.h"), "// b\n");
  EXPECT_EQ(read(root + "/configs/dataset_config.json"),
            read(dir_.file("proj/configs/dataset_config.json")));
  EXPECT_EQ(read(root + "/_desc: first try"), "");
  EXPECT_TRUE(list(root + "/Checkpoints").empty());
  EXPECT_EQ(read(root + "/_package.json"),
            "{\n    \"ckpt_consistent\": [],\n    \"ckpt_fast\": [],\n    \"ckpt_slow\": [],\n"
            "    \"prefix\": \"state_\"\n}\n");
  EXPECT_EQ(package.description(), "first try");
}

// The names every writer and reader of a package takes from SavePackage are the documented
// ones (docs/save_package.md): packages written by earlier versions stay readable.
TEST(SavePackageLayoutTest, NamesAreTheDocumentedOnes) {
  EXPECT_STREQ(SavePackage::kArgsFile, "args.json");
  EXPECT_STREQ(SavePackage::kIndexFile, "_package.json");
  EXPECT_STREQ(SavePackage::kCheckpointsDir, "Checkpoints");
  EXPECT_STREQ(SavePackage::kPluginFile, "dlnest_plugin.so");
  EXPECT_STREQ(SavePackage::kOutputFile, "_output.txt");
  EXPECT_EQ(SavePackage::output_file_for_rank(0), "_output_0.txt");
  EXPECT_EQ(SavePackage::output_file_for_rank(12), "_output_12.txt");
  EXPECT_STREQ(SavePackage::kMetricsFile, "metrics.jsonl");
  EXPECT_STREQ(SavePackage::kAnalyzeScriptsDir, "AnalyzeScripts");
}

TEST_F(SavePackageTest, ArgsJsonIsTheMergedArgsPointingAtThePackage) {
  SavePackage package = create();
  const Json written = Json::parse(read(package.root() + "/args.json"));
  auto loaded = load_config(dir_.file("proj/root_config.json"));
  ASSERT_TRUE(loaded.is_ok());
  Json expected = loaded->args;
  expected["root_file_path"] = package.root();
  expected["other_file_paths"][2] = "./common.h";
  EXPECT_EQ(written, expected);
  EXPECT_EQ(package.args(), expected);
  EXPECT_FALSE(written.contains("child_jsons"));
  EXPECT_EQ(written["model_config"]["feats"], Json::parse("[1, 64]"));
  // Keys are written sorted, four-space indented.
  EXPECT_EQ(read(package.root() + "/args.json").rfind("{\n    \"checkpoint_args\": {", 0), 0u);
}

TEST_F(SavePackageTest, NamesAreUniqueUnderRapidCreation) {
  std::set<std::string> roots;
  for (int i = 0; i < 20; ++i) roots.insert(create().root());
  EXPECT_EQ(roots.size(), 20u);
}

TEST_F(SavePackageTest, NoSaveReplacesTheEarlierNoSavePackage) {
  SavePackage first = create(PackageOptions().with_no_save(true));
  EXPECT_EQ(first.root(), dir_.file("Saves/NOSAVE"));
  ASSERT_TRUE(first.save_checkpoint("old", false).is_ok());
  SavePackage second = create(PackageOptions().with_no_save(true));
  EXPECT_EQ(second.root(), first.root());
  EXPECT_TRUE(list(second.root() + "/Checkpoints").empty());
  EXPECT_EQ(second.checkpoints().latest_id(), -1);
}

TEST_F(SavePackageTest, DescriptionCanNameTheFolder) {
  const PackageOptions options =
      PackageOptions().with_description("lr 0.1/bs 64").with_use_description(true);
  EXPECT_EQ(create(options).root(), dir_.file("Saves/lr 0.1_bs 64"));
  EXPECT_EQ(create(options).root(), dir_.file("Saves/lr 0.1_bs 64_2"));
  auto package = SavePackage::from_config(dir_.file("proj/root_config.json"));
  ASSERT_TRUE(package.is_ok());
  EXPECT_EQ(package->save_to_new_dir(PackageOptions().with_use_description(true)).message(),
            "a package named by its description needs a description");
}

TEST_F(SavePackageTest, MissingProjectFileIsNamedAndLeavesNoFolder) {
  ASSERT_EQ(::unlink(dir_.file("proj/LifeCycle.cpp").c_str()), 0);
  auto package = SavePackage::from_config(dir_.file("proj/root_config.json"));
  ASSERT_TRUE(package.is_ok());
  Status s = package->save_to_new_dir();
  EXPECT_EQ(s.message(), "project file \"./LifeCycle.cpp\" (life_cycle_file_path): no such file " +
                             dir_.file("proj/LifeCycle.cpp"));
  EXPECT_TRUE(list(dir_.file("Saves")).empty());
  EXPECT_FALSE(package->has_dir());
}

TEST_F(SavePackageTest, OpenRestoresArgsCheckpointsAndDescription) {
  SavePackage package = create(PackageOptions().with_description("resume me"));
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(package.save_checkpoint("state " + std::to_string(i), i == 1).is_ok());
  }
  auto opened = SavePackage::open(package.root());
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  EXPECT_EQ(opened->args(), package.args());
  EXPECT_EQ(opened->description(), "resume me");
  EXPECT_EQ(*opened->load_checkpoint(), "state 3");
  EXPECT_EQ(*opened->load_checkpoint(1), "state 1");
  EXPECT_EQ(opened->load_checkpoint(0).status().code(), Status::Code::kNotFound);
  EXPECT_EQ(std::vector<int>(opened->checkpoints().tracks().fast.begin(),
                             opened->checkpoints().tracks().fast.end()),
            (std::vector<int>{2, 3}));
  const std::set<std::string> files = {"state_1.ckpt", "state_2.ckpt", "state_3.ckpt"};
  const std::vector<std::string> on_disk = list(package.root() + "/Checkpoints");
  EXPECT_EQ(std::set<std::string>(on_disk.begin(), on_disk.end()), files);
}

TEST_F(SavePackageTest, ContinuingFromAnOlderCheckpointNumbersOnFromIt) {
  SavePackage package = create();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(package.save_checkpoint("s", i == 0).is_ok());
  auto opened = SavePackage::open(package.root());
  ASSERT_TRUE(opened.is_ok());
  ASSERT_TRUE(opened->set_checkpoint_id(0).is_ok());
  EXPECT_EQ(*opened->save_checkpoint("continued"), 1);
  EXPECT_EQ(*opened->load_checkpoint(), "continued");
  EXPECT_EQ(opened->set_checkpoint_id(7).code(), Status::Code::kNotFound);
}

TEST_F(SavePackageTest, OpenRejectsWhatIsNotAPackage) {
  EXPECT_EQ(SavePackage::open(dir_.file("none")).status().message(),
            "save package " + dir_.file("none") + ": no such folder");
  EXPECT_EQ(SavePackage::open(dir_.file("proj")).status().message(),
            dir_.file("proj") + " is not a DLNest save package (no _package.json)");
  dir_.write("broken/_package.json", "{}");
  dir_.write("broken/args.json", "{\"a\": }");
  EXPECT_EQ(SavePackage::open(dir_.file("broken")).status().message().rfind(
                dir_.file("broken/args.json") + ":1:7: JSON syntax error", 0),
            0u);
  dir_.write("badindex/_package.json", R"({"ckpt_fast": "x"})");
  dir_.write("badindex/args.json", "{}");
  EXPECT_EQ(SavePackage::open(dir_.file("badindex")).status().to_string(),
            "Corruption: " + dir_.file("badindex/_package.json") +
                ": \"ckpt_fast\" must be an array");
}

TEST_F(SavePackageTest, OpenRefusesRecordsThatLeadOutOfThePackage) {
  const std::string secret = dir_.write("elsewhere/secret.json", "{}");
  dir_.write("linked/_package.json", "{}");
  ASSERT_EQ(::symlink(secret.c_str(), dir_.file("linked/args.json").c_str()), 0);
  EXPECT_EQ(SavePackage::open(dir_.file("linked")).status().to_string(),
            "Failed precondition: " + dir_.file("linked/args.json") + " leads out of " +
                dir_.file("linked") + " (to " + secret + ")");

  dir_.write("index/args.json", "{}");
  ASSERT_EQ(::symlink("../elsewhere/secret.json", dir_.file("index/_package.json").c_str()), 0);
  EXPECT_EQ(SavePackage::open(dir_.file("index")).status().to_string(),
            "Failed precondition: " + dir_.file("index/_package.json") + " leads out of " +
                dir_.file("index") + " (to " + secret + ")");

  dir_.write("inside/_package.json", "{}");
  dir_.write("inside/records/args.json", "{}");
  ASSERT_EQ(::symlink("records/args.json", dir_.file("inside/args.json").c_str()), 0);
  EXPECT_TRUE(SavePackage::open(dir_.file("inside")).is_ok());
}

TEST_F(SavePackageTest, OpenRefusesRecordsThatAreNotRegularFiles) {
  dir_.write("fifo/_package.json", "{}");
  ASSERT_EQ(::mkfifo(dir_.file("fifo/args.json").c_str(), 0600), 0);
  EXPECT_EQ(SavePackage::open(dir_.file("fifo")).status().to_string(),
            "Failed precondition: " + dir_.file("fifo/args.json") + " is not a regular file");
}

TEST(StandaloneSavePackageTest, GiveArgsSaveToNewDirAndCheckpoint) {
  TempDir dir;
  SavePackage package(Json{{"save_root", dir.file("runs")},
                           {"checkpoint_args", {{"max_ckpt_in_fast_track", 1},
                                                {"max_ckpt_in_consistent_track", 2}}}});
  EXPECT_EQ(package.save_checkpoint("early").status().code(),
            Status::Code::kFailedPrecondition);
  ASSERT_TRUE(package.save_to_new_dir(PackageOptions().with_name("mine").with_copy_files(false))
                  .is_ok());
  EXPECT_EQ(package.root(), dir.file("runs/mine"));
  EXPECT_EQ(package.save_to_new_dir().code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(*package.save_checkpoint("zero", /*hold=*/true), 0);
  EXPECT_EQ(*package.save_checkpoint("one"), 1);
  EXPECT_EQ(*package.save_checkpoint("two"), 2);
  EXPECT_EQ(*package.load_checkpoint(0), "zero");
  EXPECT_EQ(*package.checkpoint_path(), dir.file("runs/mine/Checkpoints/state_2.ckpt"));
  ASSERT_TRUE(package.save_visual_string("acc 0.91").is_ok());
  EXPECT_TRUE(env()->file_exists(dir.file("runs/mine/acc 0.91")));
  EXPECT_EQ(read(dir.file("runs/mine/args.json")),
            Json::parse(read(dir.file("runs/mine/args.json"))).dump(4) + "\n");
}

TEST(StandaloneSavePackageTest, MissingSaveRootIsAnError) {
  SavePackage package(Json{{"checkpoint_args", Json::object()}});
  EXPECT_EQ(package.save_to_new_dir().message(), "args: \"save_root\" is missing");
}

}  // namespace
}  // namespace dlnest
