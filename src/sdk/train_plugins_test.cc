// The training plugins of a run, without a training: the built-ins and a test plugin driven
// through PluginSet as the training loop drives them, against real files and a real SMTP server.
#include "sdk/train_plugins.h"

#include <gtest/gtest.h>

#include <iostream>
#include <sstream>

#include "dlnest/env.h"
#include "env/path.h"
#include "plugins/smtp_sink_test_util.h"
#include "testing/temp_dir.h"

namespace {

/// Records its hooks; throws in before(Train). Runs on every rank when args "all_ranks" says so.
class RecordingPlugin : public dlnest::TrainPlugin {
 public:
  static std::vector<std::string>& calls() {
    static std::vector<std::string> c;
    return c;
  }
  void init() override { calls().push_back("init " + name() + " " + options().dump()); }
  void before(const dlnest::StageInfo& info) override {
    calls().push_back(std::string("before ") + dlnest::stage_name(info.stage));
    if (info.stage == dlnest::Stage::kTrain) throw std::runtime_error("boom");
  }
  void after(const dlnest::StageInfo& info) override {
    calls().push_back(std::string("after ") + dlnest::stage_name(info.stage));
  }
  void on_abort(const std::string& error) override {
    calls().push_back("abort " + error);
    throw std::runtime_error("abort fails too");
  }
  void on_finish() override { calls().push_back("finish"); }
  bool all_ranks() const override { return args().value("all_ranks", false); }
};
DLNEST_REGISTER_PLUGIN(RecordingPlugin);

}  // namespace

namespace dlnest {
namespace {

using testing::SmtpSink;
using testing::TempDir;

/// Captures what the plugins write to std::cout while it lives.
class CaptureOutput {
 public:
  CaptureOutput() : old_(std::cout.rdbuf(text_.rdbuf())) {}
  ~CaptureOutput() { std::cout.rdbuf(old_); }
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::istringstream in(text_.str());
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

 private:
  std::ostringstream text_;
  std::streambuf* old_;
};

class TrainPluginsTest : public ::testing::Test {
 protected:
  void TearDown() override { set_plugin_log_settings(LogSettings{}); }

  /// Starts the plugins of `args` as the training loop does, on rank `rank`.
  void start(const Json& plugins_args, int rank = 0) {
    args_ = plugins_args;
    args_["root_file_path"] = "/projects/mnist";
    PluginContext base;
    base.args = &args_;
    base.log = &log_;
    base.package_dir = dir_.path();
    base.rank = rank;
    base.world_size = 2;
    set_.start(args_, base);
  }

  void visualize(int iter) { set_.after({Stage::kVisualize, 0, iter}); }

  TempDir dir_;
  Json args_;
  Json log_ = Json::object();
  PluginSet set_;
};

TEST_F(TrainPluginsTest, UnknownAndDuplicatePluginsAreRefusedListingTheKnownOnes) {
  EXPECT_TRUE(check_plugins(Json::object()).is_ok());
  EXPECT_TRUE(check_plugins({{"plugins", {"LogInit", "MailsNote"}}}).is_ok());
  EXPECT_EQ(check_plugins({{"plugins", {"LogInit", "Mails"}}}).message(),
            "plugins: \"Mails\" is neither a built-in plugin nor registered by the project "
            "(known: AutoTensorboardScalar, LogInit, MailsNote, RecordingPlugin, "
            "SimpleCMDVisualize)");
  EXPECT_EQ(check_plugins({{"plugins", {"LogInit", "LogInit"}}}).message(),
            "plugins: \"LogInit\" is listed twice");
}

TEST_F(TrainPluginsTest, HooksRunInOrderWithTheirOptionsAndErrorsNameThePlugin) {
  RecordingPlugin::calls().clear();
  start({{"plugins", {"RecordingPlugin"}}, {"plugins_config", {{"RecordingPlugin", {{"x", 1}}}}}});
  set_.before({Stage::kAll, -1, -1});
  set_.after({Stage::kAll, -1, -1});
  try {
    set_.before({Stage::kTrain, -1, -1});
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "plugin RecordingPlugin (before): boom");
  }
  set_.abort("stage Train: boom");  // its own exception is logged, not thrown
  set_.finish();
  EXPECT_EQ(RecordingPlugin::calls(),
            (std::vector<std::string>{"init RecordingPlugin {\"x\":1}", "before All", "after All",
                                      "before Train", "abort stage Train: boom", "finish"}));
}

TEST_F(TrainPluginsTest, PluginsRunOnRankZeroUnlessTheyAskForEveryRank) {
  RecordingPlugin::calls().clear();
  start({{"plugins", {"RecordingPlugin"}}}, /*rank=*/1);
  set_.after({Stage::kAll, -1, -1});
  EXPECT_TRUE(RecordingPlugin::calls().empty());
  PluginSet every;
  Json args = {{"plugins", {"RecordingPlugin"}}, {"all_ranks", true}};
  PluginContext base;
  base.args = &args;
  base.log = &log_;
  base.rank = 1;
  every.start(args, base);
  every.after({Stage::kAll, -1, -1});
  EXPECT_EQ(RecordingPlugin::calls().size(), 2u);
}

TEST_F(TrainPluginsTest, SimpleCMDVisualizePrintsTheChosenKeysEveryStrideSteps) {
  CaptureOutput output;
  start({{"plugins", {"SimpleCMDVisualize"}},
         {"plugins_config",
          {{"SimpleCMDVisualize",
            {{"stride", 2},
             {"keys", {"loss", "acc", "lr"}},
             {"format", {{"loss", "\t| {} : {:.6f}"}, {"acc", "\t| {} : {:.2f}"}}}}}}}});
  log_ = {{"loss", {0.5, 0.25}}, {"acc", Json::array()}, {"lr", 0.01}};
  visualize(0);
  visualize(1);
  log_["loss"].push_back(0.125);
  log_["acc"].push_back(0.875);
  visualize(2);
  set_.after({Stage::kModelOneStep, 0, 4});
  EXPECT_EQ(output.lines(), (std::vector<std::string>{
                                "[SimpleCMDVisualize] Iter : 0\t| loss : 0.250000\t| lr: 0.01",
                                "[SimpleCMDVisualize] Iter : 2\t| loss : 0.125000\t| acc : 0.88"
                                "\t| lr: 0.01"}));
}

TEST_F(TrainPluginsTest, LogInitSetsTheLevelAndFormatOfEveryPluginsLines) {
  CaptureOutput output;
  start({{"plugins", {"LogInit", "SimpleCMDVisualize"}},
         {"plugins_config",
          {{"LogInit", {{"format", "%(levelname)s %(name)s: %(message)s"}}},
           {"SimpleCMDVisualize", {{"keys", {"loss"}}}}}}});
  log_ = {{"loss", {1}}};
  visualize(3);
  set_plugin_log_settings(LogSettings{});
  PluginSet quiet;
  Json args = {{"plugins", {"LogInit", "SimpleCMDVisualize"}},
               {"plugins_config", {{"LogInit", {{"level", "WARNING"}}}}}};
  PluginContext base;
  base.args = &args;
  base.log = &log_;
  quiet.start(args, base);
  quiet.after({Stage::kVisualize, 0, 4});
  EXPECT_EQ(output.lines(),
            (std::vector<std::string>{"INFO SimpleCMDVisualize: Iter : 3\t| loss: 1"}));
}

TEST_F(TrainPluginsTest, BadOptionsFailTheStartNamingThePluginAndOption) {
  const std::pair<Json, std::string> cases[] = {
      {{{"LogInit", {{"level", "LOUD"}}}},
       "plugin LogInit (init): level \"LOUD\" is not a log level (DEBUG, INFO, WARNING, ERROR)"},
      {{{"SimpleCMDVisualize", {{"stride", 0}}}},
       "plugin SimpleCMDVisualize (init): stride must be a whole number above 0, got 0"},
      {{{"MailsNote", {{"port", "25"}}}},
       "plugin MailsNote (init): port must be a TCP port (1-65535), got \"25\""},
  };
  for (const auto& [config, message] : cases) {
    PluginSet set;
    Json args = {{"plugins", Json::array({config.begin().key()})}, {"plugins_config", config}};
    PluginContext base;
    base.args = &args;
    base.log = &log_;
    try {
      set.start(args, base);
      ADD_FAILURE() << message;
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(e.what(), message);
    }
  }
}

TEST_F(TrainPluginsTest, AutoTensorboardScalarWritesNewValuesOfTheLogsLists) {
  start({{"plugins", {"AutoTensorboardScalar"}}});
  const std::string dir = path::join(dir_.path(), "tensorboard/visualize");
  log_ = {{"loss", {0.5}}, {"note", "text"}};
  visualize(0);
  auto files = Env::default_env()->list_dir(dir);
  ASSERT_TRUE(files.is_ok()) << files.status().message();
  ASSERT_EQ(files->size(), 1u);
  const std::string file = path::join(dir, files->front());
  const auto size = [&] { return Env::default_env()->read_file(file)->size(); };
  const size_t first = size();
  visualize(1);  // nothing new
  EXPECT_EQ(size(), first);
  log_["loss"].push_back(0.25);
  visualize(2);
  EXPECT_GT(size(), first);
}

TEST_F(TrainPluginsTest, MailsNoteMailsOnTrainFinishAndOnAborting) {
  SmtpSink sink;
  if (!sink.start()) GTEST_SKIP() << "no SMTP sink: python3-aiosmtpd is not installed";
  CaptureOutput output;
  start({{"plugins", {"MailsNote"}},
         {"plugins_config",
          {{"MailsNote",
            {{"host", "127.0.0.1"}, {"port", sink.port()}, {"username", "me@example.com"}}}}}});
  log_ = {{"acc", {0.5, 0.75}}};
  set_.finish();
  set_.abort("stage OneEpoch (epoch 2, iter 17): injected failure");
  const std::vector<std::string> mails = sink.mails(2);
  ASSERT_EQ(mails.size(), 2u);
  EXPECT_NE(mails[0].find("Subject: Train Finished!"), std::string::npos) << mails[0];
  EXPECT_NE(mails[0].find("Train task in /projects/mnist finished"), std::string::npos);
  EXPECT_NE(mails[0].find("| acc : 0.75"), std::string::npos) << mails[0];
  EXPECT_NE(mails[0].find("X-Envelope-To: me@example.com"), std::string::npos);
  EXPECT_NE(mails[1].find("Subject: Train Aborted!"), std::string::npos) << mails[1];
  EXPECT_NE(mails[1].find("stage OneEpoch (epoch 2, iter 17): injected failure"),
            std::string::npos);
  EXPECT_EQ(output.lines(),
            (std::vector<std::string>{"[MailsNote] sent \"Train Finished!\" to me@example.com",
                                      "[MailsNote] sent \"Train Aborted!\" to me@example.com"}));
}

TEST_F(TrainPluginsTest, MailsNoteSendsOnlyWhatEnableListNamesAndAFailureIsLoggedOnly) {
  SmtpSink sink;
  if (!sink.start()) GTEST_SKIP() << "no SMTP sink: python3-aiosmtpd is not installed";
  CaptureOutput output;
  start({{"plugins", {"MailsNote"}},
         {"plugins_config",
          {{"MailsNote",
            {{"host", "127.0.0.1"}, {"port", sink.port()}, {"enable_list", {"Aborting"}}}}}}});
  set_.finish();
  set_.abort("stage Train: boom");
  EXPECT_EQ(sink.mails(2, std::chrono::seconds(1)).size(), 1u);

  PluginSet broken;
  Json args = {{"plugins", {"MailsNote"}},
               {"plugins_config", {{"MailsNote", {{"host", "no-such-host.invalid"}}}}}};
  PluginContext base;
  base.args = &args;
  base.log = &log_;
  broken.start(args, base);
  EXPECT_NO_THROW(broken.finish());
  const std::vector<std::string> lines = output.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(
      lines[1].rfind("[MailsNote] cannot send \"Train Finished!\": smtp no-such-host.invalid:25: "
                     "cannot resolve host",
                     0),
      0u)
      << lines[1];
}

}  // namespace
}  // namespace dlnest
