#include "package/args_history.h"

#include <gtest/gtest.h>

#include "dlnest/save_package.h"
#include "env/path.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using testing::TempDir;

TEST(ArgsHistoryTest, SettingsAreJsonWhenTheyParseAndReachIntoObjects) {
  ArgsChanges changes;
  changes.settings = {"epochs=10", "optimizer.lr=1e-4", "name=sgd run", "layers=[1,2]"};
  Result<Json> overlay = args_overlay(changes);
  ASSERT_TRUE(overlay.is_ok()) << overlay.status().message();
  EXPECT_EQ(*overlay, Json::parse(R"({"epochs": 10, "optimizer": {"lr": 1e-4},
                                      "name": "sgd run", "layers": [1, 2]})"));
  for (const char* bad : {"epochs", "=3", ".a=1", "a.=1", "a..b=1"}) {
    changes.settings = {bad};
    Result<Json> refused = args_overlay(changes);
    ASSERT_FALSE(refused.is_ok()) << bad;
    EXPECT_NE(refused.status().message().find(std::string("\"") + bad + "\""), std::string::npos)
        << refused.status().message();
  }
}

TEST(ArgsHistoryTest, AChangeRewritesArgsAndIsRecordedBesideThem) {
  TempDir dir;
  const std::string package = dir.file("pkg");
  dir.write("pkg/args.json", R"({"epochs": 2, "optimizer": {"lr": 0.01, "momentum": 0.9}})");
  const std::string freq = dir.write("more.json", R"({"epochs": 5, "child_jsons": []})");
  EXPECT_EQ(*read_args_history(package), Json::array());

  ArgsChanges changes;
  changes.freq_path = freq;
  changes.settings = {"optimizer.lr=0.001"};
  Result<Json> args = change_package_args(package, changes, 3);
  ASSERT_TRUE(args.is_ok()) << args.status().message();
  const Json expected =
      Json::parse(R"({"epochs": 5, "optimizer": {"lr": 0.001, "momentum": 0.9}})");
  EXPECT_EQ(*args, expected);
  auto opened = Env::default_env()->read_file(path::join(package, SavePackage::kArgsFile));
  EXPECT_EQ(Json::parse(*opened), expected);

  changes = ArgsChanges{};
  changes.settings = {"epochs=8"};
  ASSERT_TRUE(change_package_args(package, changes, -1).is_ok());
  Result<Json> history = read_args_history(package);
  ASSERT_TRUE(history.is_ok()) << history.status().message();
  ASSERT_EQ(history->size(), 2u);
  const Json& first = (*history)[0];
  EXPECT_EQ(first["checkpoint_ID"], 3);
  EXPECT_EQ(first["freq_path"], freq);
  EXPECT_EQ(first["set"], Json::array({"optimizer.lr=0.001"}));
  EXPECT_EQ(first["changed"], Json::parse(R"({"epochs": {"from": 2, "to": 5},
                                               "optimizer.lr": {"from": 0.01, "to": 0.001}})"));
  EXPECT_EQ((*history)[1]["changed"], Json::parse(R"({"epochs": {"from": 5, "to": 8}})"));
  EXPECT_FALSE(first.value("time", "").empty());
}

TEST(ArgsHistoryTest, AMissingFreqFileNamesItAndChangesNothing) {
  TempDir dir;
  const std::string package = dir.file("pkg");
  dir.write("pkg/args.json", R"({"epochs": 2})");
  ArgsChanges changes;
  changes.freq_path = dir.file("nope.json");
  Result<Json> args = change_package_args(package, changes, -1);
  ASSERT_FALSE(args.is_ok());
  EXPECT_NE(args.status().message().find("nope.json"), std::string::npos);
  EXPECT_EQ(*read_args_history(package), Json::array());
}

}  // namespace
}  // namespace dlnest
