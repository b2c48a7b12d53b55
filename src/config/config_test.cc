#include "dlnest/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "env/regular_file.h"
#include "testing/temp_dir.h"
#include "testing/watchdog.h"

namespace dlnest {
namespace {

using testing::TempDir;

class ConfigTest : public ::testing::Test {
 protected:
  /// Loads `root` (and `freq`) from the temp dir; fails the test on error.
  Json load(const std::string& root, const std::string& freq = "") {
    auto config = load_config(dir_.file(root), freq.empty() ? "" : dir_.file(freq));
    EXPECT_TRUE(config.is_ok()) << config.status().to_string();
    return config.is_ok() ? config->args : Json();
  }
  /// Loads and expects an error; returns its message.
  std::string error_of(const std::string& root, const std::string& freq = "") {
    auto config = load_config(dir_.file(root), freq.empty() ? "" : dir_.file(freq));
    EXPECT_FALSE(config.is_ok());
    return config.status().message();
  }

  TempDir dir_;
};

TEST_F(ConfigTest, WorkedExampleOfTheDesign) {
  dir_.write("root.json", R"({"a": {"x": 1, "y": 2}, "child_jsons": ["child.json"]})");
  dir_.write("child.json", R"({"a": {"y": 20, "z": 30}})");
  dir_.write("freq.json", R"({"a": {"x": 100}})");
  const Json args = load("root.json", "freq.json");
  EXPECT_EQ(args["a"], Json::parse(R"({"x": 100, "y": 20, "z": 30})"));
  EXPECT_FALSE(args.contains("child_jsons"));
}

TEST_F(ConfigTest, NestedObjectsMergeKeyByKey) {
  dir_.write(
      "root.json",
      R"({"m": {"enc": {"layers": 2, "act": "relu"}, "lr": 0.1}, "child_jsons": ["c.json"]})");
  dir_.write("c.json", R"({"m": {"enc": {"layers": 4, "drop": 0.5}}})");
  EXPECT_EQ(load("root.json")["m"],
            Json::parse(R"({"enc": {"layers": 4, "act": "relu", "drop": 0.5}, "lr": 0.1})"));
}

TEST_F(ConfigTest, ArraysAndScalarsAreReplacedWhole) {
  dir_.write("root.json",
             R"({"feats": [1, 2, 3], "obj": {"k": 1}, "s": "x", "child_jsons": ["c.json"]})");
  dir_.write("c.json", R"({"feats": [9], "obj": 5, "s": {"now": "object"}})");
  const Json args = load("root.json");
  EXPECT_EQ(args["feats"], Json::parse("[9]"));
  EXPECT_EQ(args["obj"], 5);
  EXPECT_EQ(args["s"], Json::parse(R"({"now": "object"})"));
}

TEST_F(ConfigTest, ChildrenLoadDepthFirstInListedOrder) {
  dir_.write("root.json", R"({"k": "root", "p": "root", "child_jsons": ["c1.json", "c2.json"]})");
  dir_.write("c1.json", R"({"k": "c1", "p": "c1", "q": "c1", "child_jsons": ["c1a.json"]})");
  dir_.write("c1a.json", R"({"k": "c1a", "p": "c1a"})");
  dir_.write("c2.json", R"({"k": "c2"})");
  auto config = load_config(dir_.file("root.json"));
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->args["k"], "c2");
  EXPECT_EQ(config->args["p"], "c1a");
  EXPECT_EQ(config->args["q"], "c1");
  const std::vector<std::string> order = {dir_.file("root.json"), dir_.file("c1.json"),
                                          dir_.file("c1a.json"), dir_.file("c2.json")};
  EXPECT_EQ(config->config_files, order);
}

TEST_F(ConfigTest, FreqLoadsLastWithItsOwnChildren) {
  dir_.write("root.json", R"({"lr": 1, "bs": 1, "ep": 1, "child_jsons": ["c.json"]})");
  dir_.write("c.json", R"({"lr": 2, "bs": 2})");
  dir_.write("tune/freq.json", R"({"lr": 3, "ep": 3, "child_jsons": ["f1.json"]})");
  dir_.write("tune/f1.json", R"({"ep": 4})");
  const Json args = load("root.json", "tune/freq.json");
  EXPECT_EQ(args["lr"], 3);
  EXPECT_EQ(args["bs"], 2);
  EXPECT_EQ(args["ep"], 4);
}

TEST_F(ConfigTest, RelativePathsResolveFromTheListingFile) {
  dir_.write("p/root.json", R"({"child_jsons": ["sub/a.json"]})");
  dir_.write("p/sub/a.json", R"({"a": 1, "child_jsons": ["deeper/b.json", "../c.json"]})");
  dir_.write("p/sub/deeper/b.json", R"({"b": 1, "child_jsons": ["../../d.json"]})");
  dir_.write("p/c.json", R"({"c": 1})");
  dir_.write("p/d.json", R"({"d": 1})");
  const Json args = load("p/root.json");
  for (const char* key : {"a", "b", "c", "d"}) EXPECT_EQ(args[key], 1) << key;
}

TEST_F(ConfigTest, ProjectPathsAreMadeAbsolute) {
  dir_.write("p/root.json", R"({"x": 1})");
  EXPECT_EQ(load("p/root.json")["root_file_path"], dir_.file("p"));
  dir_.write("p/root2.json", R"({"root_file_path": "./src/../proj"})");
  EXPECT_EQ(load("p/root2.json")["root_file_path"], dir_.file("p/proj"));
  dir_.write("p/root3.json", R"({"root_file_path": "/abs/where", "save_root": "../Saves"})");
  EXPECT_EQ(load("p/root3.json")["root_file_path"], "/abs/where");
  EXPECT_EQ(load("p/root3.json")["save_root"], "/abs/Saves");
  dir_.write("p/root4.json", R"({"save_root": "/runs"})");
  EXPECT_EQ(load("p/root4.json")["save_root"], "/runs");
}

TEST_F(ConfigTest, CycleIsAnErrorNamingTheChain) {
  dir_.write("a.json", R"({"child_jsons": ["b.json"]})");
  dir_.write("b.json", R"({"child_jsons": ["./a.json"]})");
  EXPECT_EQ(error_of("a.json"), "child_jsons cycle: " + dir_.file("a.json") + " -> " +
                                    dir_.file("b.json") + " -> " + dir_.file("a.json"));
  dir_.write("self.json", R"({"child_jsons": ["self.json"]})");
  EXPECT_NE(error_of("self.json").find("cycle"), std::string::npos);
}

TEST_F(ConfigTest, SameChildTwiceWithoutCycleIsAllowed) {
  dir_.write("root.json", R"({"child_jsons": ["a.json", "b.json"]})");
  dir_.write("a.json", R"({"child_jsons": ["common.json"]})");
  dir_.write("b.json", R"({"child_jsons": ["common.json"]})");
  dir_.write("common.json", R"({"c": 1})");
  EXPECT_EQ(load("root.json")["c"], 1);
}

TEST_F(ConfigTest, MissingChildNamesTheReferencingFile) {
  dir_.write("root.json", R"({"child_jsons": ["a.json"]})");
  dir_.write("a.json", R"({"child_jsons": ["ok.json", "sub/missing.json"]})");
  dir_.write("ok.json", "{}");
  EXPECT_EQ(error_of("root.json"), dir_.file("a.json") +
                                       ": child_jsons[1] \"sub/missing.json\": no such file " +
                                       dir_.file("sub/missing.json"));
}

TEST_F(ConfigTest, SyntaxErrorNamesFileLineAndColumn) {
  dir_.write("root.json", R"({"child_jsons": ["bad.json"]})");
  dir_.write("bad.json", "{\n  \"a\": 1,\n  \"b\": tru\n}\n");
  EXPECT_EQ(error_of("root.json"), dir_.file("bad.json") +
                                       ":3:11: JSON syntax error: syntax error while parsing "
                                       "value - invalid literal");
  dir_.write("trailing.json", "{\"a\": 1,}");
  EXPECT_EQ(error_of("trailing.json"),
            dir_.file("trailing.json") +
                ":1:9: JSON syntax error: syntax error while parsing object key - unexpected "
                "'}'; expected string literal");
}

TEST_F(ConfigTest, SyntaxErrorNeverQuotesTheFile) {
  const std::vector<std::string> lines = {"root:$6$secret-salt$hash:19000:0:99999:7:::",
                                          "\"unterminated secret string", "\177ELF\001\002"};
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  for (const std::string& content : {text, lines[1], lines[1] + "\n", "{\"k\": " + text}) {
    dir_.write("shadow", content);
    const std::string error = error_of("shadow");
    EXPECT_EQ(error.rfind(dir_.file("shadow") + ":", 0), 0u) << error;
    EXPECT_NE(error.find("JSON syntax error"), std::string::npos) << error;
    for (const std::string& line : lines) {
      EXPECT_EQ(error.find(line), std::string::npos) << error;
      EXPECT_EQ(error.find(line.substr(0, 6)), std::string::npos) << error;
    }
  }
}

/// The error of loading `root` (and `freq`), which must come within a second.
std::string quick_error(const std::string& root, const std::string& freq = "") {
  testing::Watchdog watchdog(5, "still reading");
  const auto start = std::chrono::steady_clock::now();
  auto config = load_config(root, freq);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_FALSE(config.is_ok());
  return config.status().message();
}

TEST_F(ConfigTest, DeviceIsRefusedAtOnce) {
  EXPECT_EQ(quick_error("/dev/zero"), "/dev/zero is not a regular file");
  dir_.write("root.json", R"({"a": 1})");
  EXPECT_EQ(quick_error(dir_.file("root.json"), "/dev/zero"), "/dev/zero is not a regular file");
  dir_.write("parent.json", R"({"child_jsons": ["/dev/zero"]})");
  EXPECT_EQ(quick_error(dir_.file("parent.json")), "/dev/zero is not a regular file");
}

TEST_F(ConfigTest, FifoIsRefusedWithoutBlocking) {
  const std::string fifo = dir_.file("fifo.json");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(quick_error(fifo), fifo + " is not a regular file");
  dir_.write("parent.json", R"({"child_jsons": ["fifo.json"]})");
  EXPECT_EQ(quick_error(dir_.file("parent.json")), fifo + " is not a regular file");
}

TEST_F(ConfigTest, DirectoryIsRefused) {
  ASSERT_EQ(::mkdir(dir_.file("folder.json").c_str(), 0700), 0);
  EXPECT_EQ(quick_error(dir_.file("folder.json")),
            dir_.file("folder.json") + " is not a regular file");
}

TEST_F(ConfigTest, FileOverTheCapIsRefused) {
  std::string text = "{\"a\": \"" + std::string(kMaxConfigFileBytes - 10, 'x') + "\"}";
  text.resize(kMaxConfigFileBytes, ' ');
  dir_.write("max.json", text);
  EXPECT_EQ(load("max.json")["a"].get<std::string>().size(), kMaxConfigFileBytes - 10);
  dir_.write("big.json", text + " ");
  EXPECT_EQ(quick_error(dir_.file("big.json")),
            dir_.file("big.json") + " is larger than 16777216 bytes");
}

TEST_F(ConfigTest, SymlinkToARegularFileIsFollowed) {
  dir_.write("real.json", R"({"a": 1})");
  ASSERT_EQ(::symlink("real.json", dir_.file("link.json").c_str()), 0);
  EXPECT_EQ(load("link.json")["a"], 1);
  ASSERT_EQ(::symlink("/dev/zero", dir_.file("zero.json").c_str()), 0);
  EXPECT_EQ(quick_error(dir_.file("zero.json")), dir_.file("zero.json") + " is not a regular file");
}

TEST_F(ConfigTest, PluginsAreNamesAndPluginsConfigAnObjectOfObjects) {
  dir_.write("root.json", R"({"plugins": ["LogInit"], "child_jsons": ["plugins_config.json"]})");
  dir_.write("plugins_config.json",
             R"({"plugins": ["LogInit", "MailsNote"], "plugins_config": {"MailsNote": {"port": 25}}})");
  const Json args = load("root.json");
  EXPECT_EQ(args["plugins"], Json({"LogInit", "MailsNote"}));
  EXPECT_EQ(args["plugins_config"]["MailsNote"]["port"], 25);
  dir_.write("a.json", R"({"plugins": "LogInit"})");
  EXPECT_EQ(error_of("a.json"),
            dir_.file("a.json") + ": \"plugins\" must be an array of strings, got \"LogInit\"");
  dir_.write("b.json", R"({"plugins_config": []})");
  EXPECT_EQ(error_of("b.json"), dir_.file("b.json") +
                                    ": \"plugins_config\" must be an object keyed by plugin name, "
                                    "got array");
  dir_.write("c.json", R"({"plugins_config": {"LogInit": "INFO"}})");
  EXPECT_EQ(error_of("c.json"), dir_.file("c.json") +
                                    ": \"plugins_config\": \"LogInit\" must be an object of "
                                    "options, got string");
}

TEST_F(ConfigTest, TopLevelMustBeAnObject) {
  dir_.write("root.json", "[1, 2]");
  EXPECT_EQ(error_of("root.json"),
            dir_.file("root.json") + ": expected a JSON object at the top level, got array");
}

TEST_F(ConfigTest, WrongTypesForKnownKeysNameFileAndKey) {
  dir_.write("root.json", R"({"child_jsons": ["c.json"]})");
  dir_.write("c.json", R"({"checkpoint_args": [1, 2]})");
  EXPECT_EQ(error_of("root.json"),
            dir_.file("c.json") + ": \"checkpoint_args\" must be an object, got array");

  dir_.write("d.json", R"({"checkpoint_args": {"dilation_in_slow_track": 0}})");
  EXPECT_EQ(error_of("d.json"), dir_.file("d.json") +
                                    ": \"checkpoint_args.dilation_in_slow_track\" must be a "
                                    "positive integer, got 0");
  dir_.write("e.json", R"({"checkpoint_args": {"max_ckpt_in_fast_track": "3"}})");
  EXPECT_EQ(error_of("e.json"), dir_.file("e.json") +
                                    ": \"checkpoint_args.max_ckpt_in_fast_track\" must be a "
                                    "non-negative integer, got \"3\"");
  dir_.write("f.json", R"({"other_file_paths": "./a.cpp"})");
  EXPECT_EQ(error_of("f.json"), dir_.file("f.json") +
                                    ": \"other_file_paths\" must be an array of strings, got "
                                    "\"./a.cpp\"");
  dir_.write("g.json", R"({"save_root": 5})");
  EXPECT_EQ(error_of("g.json"),
            dir_.file("g.json") + ": \"save_root\" must be a string, got number");
  dir_.write("h.json", R"({"child_jsons": "c.json"})");
  EXPECT_NE(error_of("h.json").find("\"child_jsons\" must be an array of strings"),
            std::string::npos);
  dir_.write("i.json", R"({"seed": -4})");
  EXPECT_EQ(error_of("i.json"),
            dir_.file("i.json") + ": \"seed\" must be a non-negative integer, got -4");
  dir_.write("j.json", R"({"epochs": "ten"})");
  EXPECT_EQ(error_of("j.json"),
            dir_.file("j.json") + ": \"epochs\" must be a non-negative integer, got string");
  dir_.write("k.json", R"({"checkpoint_args": {"every_minutes": "5"}})");
  EXPECT_EQ(error_of("k.json"), dir_.file("k.json") +
                                    ": \"checkpoint_args.every_minutes\" must be a non-negative "
                                    "number, got string");
  dir_.write("l.json", R"({"checkpoint_args": {"every_steps": 2.5}})");
  EXPECT_NE(error_of("l.json").find("\"checkpoint_args.every_steps\" must be a non-negative"),
            std::string::npos);
}

TEST_F(ConfigTest, MissingRootAndFreqAreNamed) {
  EXPECT_EQ(error_of("nope.json"), "root config " + dir_.file("nope.json") + ": no such file");
  dir_.write("root.json", "{}");
  EXPECT_EQ(error_of("root.json", "nofreq.json"),
            "freq config " + dir_.file("nofreq.json") + ": no such file");
}

TEST_F(ConfigTest, ResolvesProjectFilesAgainstTheRoot) {
  dir_.write("p/root.json", R"({
    "root_file_path": "./proj", "runner_file_path": "./Model/Runner.cpp",
    "dataset_file_path": "Dataset/Dataset.cpp", "life_cycle_file_path": "/abs/LifeCycle.cpp",
    "other_file_paths": ["./Model/Net.h", "../shared/util.h"]})");
  const std::vector<ProjectFile> files = resolve_project_files(load("p/root.json"));
  ASSERT_EQ(files.size(), 5u);
  EXPECT_EQ(files[0].key, "/runner_file_path");
  EXPECT_EQ(files[0].absolute, dir_.file("p/proj/Model/Runner.cpp"));
  EXPECT_EQ(files[1].absolute, dir_.file("p/proj/Dataset/Dataset.cpp"));
  EXPECT_EQ(files[2].absolute, "/abs/LifeCycle.cpp");
  EXPECT_EQ(files[3].key, "/other_file_paths/0");
  EXPECT_EQ(files[4].written, "../shared/util.h");
  EXPECT_EQ(files[4].absolute, dir_.file("p/shared/util.h"));
}

TEST(MergeArgsTest, NewKeysAreAdded) {
  Json args = {{"a", 1}};
  merge_args(args, Json{{"b", {{"c", 2}}}});
  EXPECT_EQ(args, Json::parse(R"({"a": 1, "b": {"c": 2}})"));
}

}  // namespace
}  // namespace dlnest
