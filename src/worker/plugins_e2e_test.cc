// Training plugins in real runs: `dlnest run` builds the toy project (testdata/toy_project, whose
// ToyPlugin records its hooks) and trains it in the worker with plugins listed in its config.
#include <gtest/gtest.h>

#include <fstream>

#include "dlnest/save_package.h"
#include "env/path.h"
#include "plugins/smtp_sink_test_util.h"
#include "process/subprocess.h"
#include "testing/temp_dir.h"
#include "worker/worker_process_test_util.h"

namespace dlnest {
namespace {

using testing::SmtpSink;
using testing::TempDir;
using testing::lines_of;
using testing::read;

const std::string kBin = DLNEST_BIN_DIR;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class PluginsE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    ASSERT_TRUE(copy_tree(Env::default_env(), TOY_PROJECT_DIR, dir_->file("toy")).is_ok());
  }
  static void TearDownTestSuite() { delete dir_; }

  /// `dlnest run` on the toy project with `overrides` as its freq file; returns the package.
  static std::string run_toy(const std::string& name, const Json& overrides, int expected_exit,
                             const std::vector<std::string>& env = {}) {
    const std::string freq = dir_->write("toy/" + name + ".json", overrides.dump());
    std::vector<std::string> argv = {"env"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.insert(argv.end(), {kBin + "/dlnest", "run", "-c", dir_->file("toy/root_config.json"),
                             "-f", freq, "--foreground"});
    auto r = run_process(argv, "");
    EXPECT_TRUE(r.is_ok());
    if (!r.is_ok()) return "";
    EXPECT_EQ(r->exit_code, expected_exit) << r->output;
    const std::string marker = "[dlnest] save package ";
    const auto at = r->output.find(marker);
    if (at == std::string::npos) return "";
    const auto end = r->output.find('\n', at);
    return r->output.substr(at + marker.size(), end - at - marker.size());
  }

  static TempDir* dir_;
};

TempDir* PluginsE2ETest::dir_ = nullptr;

TEST_F(PluginsE2ETest, APluginsHooksRunJustBeforeTheLifeCyclesAndItFinishes) {
  const Json overrides = {{"epochs", 2},
                          {"record_hooks", true},
                          {"plugins", {"ToyPlugin"}},
                          {"plugins_config", {{"ToyPlugin", {{"answer", 42}}}}}};
  const std::string package = run_toy("hooks", overrides, 0);
  ASSERT_FALSE(package.empty());
  const std::vector<std::string> lines = lines_of(path::join(package, "hooks.txt"));
  ASSERT_GT(lines.size(), 10u);
  EXPECT_EQ(lines.front(), "plugin init {\"answer\":42}");
  EXPECT_EQ(lines[1], "plugin before All@-1");
  EXPECT_EQ(lines[2], "before All@-1");
  EXPECT_EQ(lines.back(), "plugin on_finish");
  int hooks = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    for (const char* kind : {"before ", "after "}) {
      if (lines[i].rfind(kind, 0) == 0) {
        ++hooks;
        EXPECT_EQ(lines[i - 1], "plugin " + lines[i]) << "line " << i;
      }
    }
  }
  EXPECT_GT(hooks, 20);
}

TEST_F(PluginsE2ETest, AFailedStageCallsOnAbortBeforeTheRunEnds) {
  const Json overrides = {{"epochs", 3}, {"plugins", {"ToyPlugin"}}};
  const std::string package = run_toy("abort", overrides, 1, {"TOY_FAIL_AT=OneEpoch@1"});
  ASSERT_FALSE(package.empty());
  const std::vector<std::string> lines = lines_of(path::join(package, "hooks.txt"));
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "plugin on_abort stage OneEpoch (epoch 1): injected failure");
  EXPECT_TRUE(has(read(path::join(package, SavePackage::kOutputFile)),
                  "[dlnest] error: stage OneEpoch (epoch 1): injected failure"));
}

TEST_F(PluginsE2ETest, AnUnknownPluginIsRefusedBeforeAnyUserCodeRuns) {
  const std::string package =
      run_toy("unknown", {{"epochs", 1}, {"record_hooks", true}, {"plugins", {"MailNote"}}}, 1);
  ASSERT_FALSE(package.empty());
  EXPECT_TRUE(has(read(path::join(package, SavePackage::kOutputFile)),
                  "[dlnest] error: plugins: \"MailNote\" is neither a built-in plugin nor "
                  "registered by the project (known: AutoTensorboardScalar, LogInit, MailsNote, "
                  "SimpleCMDVisualize, ToyPlugin)"))
      << read(path::join(package, SavePackage::kOutputFile));
  EXPECT_FALSE(Env::default_env()->file_exists(path::join(package, "hooks.txt")));
}

TEST_F(PluginsE2ETest, BuiltinsPrintWriteTensorBoardAndMailOnFinishAndOnAborting) {
  SmtpSink sink;
  if (!sink.start()) GTEST_SKIP() << "no SMTP sink: python3-aiosmtpd is not installed";
  const Json overrides = {
      {"epochs", 1},
      {"visualize", true},
      {"plugins", {"LogInit", "SimpleCMDVisualize", "AutoTensorboardScalar", "MailsNote"}},
      {"plugins_config",
       {{"LogInit", {{"format", "%(levelname)s %(name)s: %(message)s"}}},
        {"SimpleCMDVisualize",
         {{"stride", 2}, {"keys", {"loss"}}, {"format", {{"loss", "\t| {} : {:.6f}"}}}}},
        {"MailsNote", {{"host", "127.0.0.1"}, {"port", sink.port()}}}}}};
  const std::string package = run_toy("builtins", overrides, 0);
  ASSERT_FALSE(package.empty());
  const std::string output = read(path::join(package, SavePackage::kOutputFile));
  EXPECT_TRUE(has(output, "INFO SimpleCMDVisualize: Iter : 0\t| loss : ")) << output;
  EXPECT_TRUE(has(output, "INFO SimpleCMDVisualize: Iter : 2\t| loss : ")) << output;
  EXPECT_FALSE(has(output, "Iter : 1\t")) << output;
  EXPECT_TRUE(has(output, "INFO MailsNote: sent \"Train Finished!\" to dlnest@localhost"))
      << output;
  auto events = Env::default_env()->list_dir(path::join(package, "tensorboard/visualize"));
  ASSERT_TRUE(events.is_ok()) << events.status().message();
  EXPECT_EQ(events->size(), 1u);
  std::vector<std::string> mails = sink.mails(1);
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_TRUE(has(mails[0], "Subject: Train Finished!")) << mails[0];
  EXPECT_TRUE(has(mails[0], "Train task in " + package + " finished")) << mails[0];

  const std::string failed =
      run_toy("builtins_fail", overrides, 1, {"TOY_FAIL_AT=ModelOneStep@0:3"});
  mails = sink.mails(2);
  ASSERT_EQ(mails.size(), 2u);
  EXPECT_TRUE(has(mails[1], "Subject: Train Aborted!")) << mails[1];
  EXPECT_TRUE(has(mails[1], "stage ModelOneStep (epoch 0, iter 3): injected failure")) << mails[1];
}

TEST_F(PluginsE2ETest, AMailThatCannotBeSentIsLoggedAndTheRunGoesOn) {
  const Json overrides = {
      {"epochs", 1},
      {"plugins", {"MailsNote"}},
      {"plugins_config", {{"MailsNote", {{"host", "no-such-host.invalid"}, {"port", 2525}}}}}};
  const std::string package = run_toy("mail_fails", overrides, 0);
  ASSERT_FALSE(package.empty());
  const std::string output = read(path::join(package, SavePackage::kOutputFile));
  EXPECT_TRUE(has(output, "[MailsNote] cannot send \"Train Finished!\": smtp "
                          "no-such-host.invalid:2525: cannot resolve host"))
      << output;
  EXPECT_TRUE(has(output, "[dlnest] finished")) << output;
}

}  // namespace
}  // namespace dlnest
