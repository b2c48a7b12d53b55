#include "project/project_plugins.h"

#include <gtest/gtest.h>

#include "config/json_file.h"
#include "dlnest/env.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using testing::TempDir;

Json read(const std::string& file) {
  auto json = read_json_object(Env::default_env(), file);
  EXPECT_TRUE(json.is_ok()) << json.status().message();
  return json.is_ok() ? *json : Json();
}

TEST(ProjectPluginsTest, AddsBuiltinsWithTheirDefaultOptionsToPluginsConfigJson) {
  TempDir dir;
  dir.write("p/root_config.json", "{}");
  const std::string file =
      dir.write("p/plugins_config.json", R"({"plugins": [], "plugins_config": {}})");
  auto added = add_plugins(dir.file("p"), {"LogInit SimpleCMDVisualize", "MyPlugin"}, false);
  ASSERT_TRUE(added.is_ok()) << added.status().message();
  EXPECT_EQ(added->config_file, file);
  EXPECT_EQ(added->added, (std::vector<std::string>{"LogInit", "SimpleCMDVisualize", "MyPlugin"}));
  EXPECT_EQ(added->user, (std::vector<std::string>{"MyPlugin"}));
  const Json config = read(file);
  EXPECT_EQ(config["plugins"], Json({"LogInit", "SimpleCMDVisualize", "MyPlugin"}));
  EXPECT_EQ(config["plugins_config"]["LogInit"], Json({{"level", "INFO"}}));
  EXPECT_EQ(config["plugins_config"]["SimpleCMDVisualize"],
            Json({{"stride", 1}, {"keys", Json::array()}, {"format", Json::object()}}));
  EXPECT_FALSE(config["plugins_config"].contains("MyPlugin"));

  // Again, with `full`: listed ones stay as they are.
  added = add_plugins(dir.file("p"), {"LogInit", "MailsNote"}, true);
  ASSERT_TRUE(added.is_ok());
  EXPECT_EQ(added->already, (std::vector<std::string>{"LogInit"}));
  const Json again = read(file);
  EXPECT_EQ(again["plugins_config"]["LogInit"], Json({{"level", "INFO"}}));
  EXPECT_EQ(again["plugins_config"]["MailsNote"]["port"], 25);
  EXPECT_EQ(again["plugins_config"]["MailsNote"]["enable_list"], Json({"Aborting", "TrainFinish"}));
}

TEST(ProjectPluginsTest, WithoutPluginsConfigJsonTheRootConfigGetsThem) {
  TempDir dir;
  const std::string root = dir.write("p/root_config.json", R"({"save_root": "./Saves"})");
  ASSERT_TRUE(add_plugins(dir.file("p"), {"AutoTensorboardScalar"}, false).is_ok());
  const Json config = read(root);
  EXPECT_EQ(config["save_root"], "./Saves");
  EXPECT_EQ(config["plugins"], Json({"AutoTensorboardScalar"}));
  EXPECT_EQ(config["plugins_config"], Json::object());
}

TEST(ProjectPluginsTest, RefusesWhatItCannotDoNamingTheThingAtFault) {
  TempDir dir;
  EXPECT_EQ(add_plugins(dir.file("none"), {"LogInit"}, false).status().message(),
            "target_dir " + dir.file("none") + ": no such folder");
  dir.write("empty/x.txt", "");
  EXPECT_EQ(add_plugins(dir.file("empty"), {"LogInit"}, false).status().message(),
            "target_dir " + dir.file("empty") +
                ": neither plugins_config.json nor root_config.json is there");
  dir.write("p/root_config.json", R"({"plugins": "LogInit"})");
  EXPECT_EQ(add_plugins(dir.file("p"), {"LogInit"}, false).status().message(),
            dir.file("p/root_config.json") + ": \"plugins\" must be an array of names");
  EXPECT_EQ(add_plugins(dir.file("p"), {"../evil"}, false).status().message(),
            "plugins: \"../evil\" is not a plugin name (a C++ class name)");
  EXPECT_EQ(add_plugins(dir.file("p"), {" "}, false).status().message(),
            "plugins: no plugin name given");
}

}  // namespace
}  // namespace dlnest
