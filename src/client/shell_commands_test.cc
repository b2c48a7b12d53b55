#include "client/shell_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dlnest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

ShellContext context() {
  ShellContext c;
  c.cwd = "/home/u/proj";
  c.home = "/home/u";
  return c;
}

ShellCommand parse(const std::string& line, const ShellContext& c = context()) {
  Result<ShellCommand> command = parse_shell_command(line, c);
  EXPECT_TRUE(command.is_ok()) << line << ": " << command.status().message();
  return command.is_ok() ? *command : ShellCommand();
}

std::string error_of(const std::string& line, const ShellContext& c = context()) {
  Result<ShellCommand> command = parse_shell_command(line, c);
  EXPECT_FALSE(command.is_ok()) << line;
  return command.is_ok() ? "" : command.status().message();
}

ApiRequest post(const std::string& path, ApiParams params = {}) {
  return ApiRequest{HttpMethod::kPost, path, std::move(params)};
}

ApiRequest get(const std::string& path, ApiParams params = {}) {
  return ApiRequest{HttpMethod::kGet, path, std::move(params)};
}

std::vector<std::string> texts(const std::vector<ShellWord>& words) {
  std::vector<std::string> out;
  for (const ShellWord& w : words) out.push_back(w.text);
  return out;
}

// --- words -------------------------------------------------------------------------------------

TEST(SplitShellWords, BlanksSeparate) {
  EXPECT_THAT(texts(*split_shell_words("  run\t-c  a.json ")), ElementsAre("run", "-c", "a.json"));
  EXPECT_TRUE(split_shell_words("   ")->empty());
}

TEST(SplitShellWords, DoubleQuotesKeepSpacesAndEscapes) {
  auto words = *split_shell_words(R"(run -d "my \"best\" run \\ ok")");
  EXPECT_THAT(texts(words), ElementsAre("run", "-d", R"(my "best" run \ ok)"));
  EXPECT_FALSE(words[1].quoted);
  EXPECT_TRUE(words[2].quoted);
}

TEST(SplitShellWords, SingleQuotesAreLiteral) {
  EXPECT_THAT(texts(*split_shell_words(R"(a 'b "c" \d')")), ElementsAre("a", R"(b "c" \d)"));
}

TEST(SplitShellWords, AdjacentPiecesJoin) {
  EXPECT_THAT(texts(*split_shell_words(R"(x"a b"'c d'e)")), ElementsAre("xa bc de"));
}

TEST(SplitShellWords, EmptyQuotesAreAWord) {
  EXPECT_THAT(texts(*split_shell_words(R"(run -d "")")), ElementsAre("run", "-d", ""));
}

TEST(SplitShellWords, BackslashEscapesABlank) {
  EXPECT_THAT(texts(*split_shell_words(R"(a\ b c)")), ElementsAre("a b", "c"));
}

TEST(SplitShellWords, UnterminatedQuoteIsAnError) {
  EXPECT_THAT(split_shell_words(R"(run -d "abc)").status().message(),
              HasSubstr("unterminated \" quote"));
  EXPECT_THAT(split_shell_words("run -d 'abc").status().message(),
              HasSubstr("unterminated ' quote"));
  EXPECT_THAT(error_of(R"(run -c "x)"), HasSubstr("unterminated"));
}

// --- blank lines, unknown commands
// ----------------------------------------------------------------

TEST(ParseShellCommand, BlankAndCommentLinesDoNothing) {
  EXPECT_EQ(parse("").action, ShellAction::kNothing);
  EXPECT_EQ(parse("   ").action, ShellAction::kNothing);
  EXPECT_EQ(parse("# a comment").action, ShellAction::kNothing);
}

TEST(ParseShellCommand, UnknownCommandNamesItself) {
  EXPECT_EQ(error_of("train -c x"), "unknown command 'train' (type help for the list of commands)");
}

TEST(ParseShellCommand, WrongCaseSuggestsTheCommand) {
  EXPECT_EQ(error_of("showtask"), "unknown command 'showtask' (did you mean showTask?)");
  EXPECT_EQ(error_of("RUNEXP x"), "unknown command 'RUNEXP' (did you mean runExp?)");
}

// --- new ----------------------------------------------------------------------------------------

TEST(ParseShellCommand, NewMakesTheFolderAbsolute) {
  ShellCommand c = parse("new -d sub/p");
  EXPECT_EQ(c.action, ShellAction::kRequest);
  EXPECT_EQ(c.request, post("/new_proj", {{"target_dir", "/home/u/proj/sub/p"}}));
  EXPECT_EQ(c.done, "created project /home/u/proj/sub/p");
}

TEST(ParseShellCommand, NewMnist) {
  ShellCommand c = parse("new -MNIST -d /tmp/m");
  EXPECT_EQ(c.request, post("/new_proj", {{"target_dir", "/tmp/m"}, {"MNIST", "True"}}));
  EXPECT_EQ(c.done, "created MNIST project /tmp/m");
}

TEST(ParseShellCommand, NewNeedsAFolder) {
  EXPECT_EQ(error_of("new"), "new: missing -d DIR\nusage: new -d DIR [-MNIST] [-p NAMES]");
  EXPECT_EQ(error_of("new -d"), "new: -d needs a value (DIR)\nusage: new -d DIR [-MNIST] [-p NAMES]");
  EXPECT_EQ(error_of("new -d -MNIST"), "new: -d needs a value (DIR)\nusage: new -d DIR [-MNIST] [-p NAMES]");
}

TEST(ParseShellCommand, NewWithPlugins) {
  ShellCommand c = parse("new -d p -p LogInit SimpleCMDVisualize");
  EXPECT_EQ(c.request, post("/new_proj", {{"target_dir", "/home/u/proj/p"},
                                          {"plugins", "LogInit SimpleCMDVisualize"}}));
}

TEST(ParseShellCommand, AddPluginsAsTheOriginalShell) {
  ShellCommand c = parse("addP -d ../p -p MailsNote AutoTensorboardScalar -F");
  EXPECT_EQ(c.action, ShellAction::kRequest);
  EXPECT_EQ(c.request, post("/add_plugins", {{"target_dir", "/home/u/p"},
                                             {"plugins", "MailsNote AutoTensorboardScalar"},
                                             {"full", "True"}}));
  EXPECT_EQ(c.done, "listed plugins in the config of /home/u/p");
  EXPECT_EQ(parse("addP -p LogInit -d /p").request,
            post("/add_plugins", {{"target_dir", "/p"}, {"plugins", "LogInit"}}));
  EXPECT_EQ(error_of("addP -d /p"),
            "addP: missing -p NAMES\nusage: addP -d DIR -p NAMES [-F]");
  EXPECT_EQ(error_of("addP -p LogInit"),
            "addP: missing -d DIR\nusage: addP -d DIR -p NAMES [-F]");
}

TEST(ParseShellCommand, PathsExpandHomeAndFoldDots) {
  EXPECT_EQ(parse("new -d ~/x").request.params[0].second, "/home/u/x");
  EXPECT_EQ(parse("new -d ~").request.params[0].second, "/home/u");
  EXPECT_EQ(parse("new -d ../q/./r").request.params[0].second, "/home/u/q/r");
  ShellContext no_home = context();
  no_home.home.clear();
  EXPECT_EQ(parse("new -d ~/x", no_home).request.params[0].second, "/home/u/proj/~/x");
}

// --- run ----------------------------------------------------------------------------------------

TEST(ParseShellCommand, RunMinimal) {
  ShellCommand c = parse("run -c root_config.json");
  EXPECT_EQ(c.action, ShellAction::kSubmit);
  EXPECT_EQ(c.request, post("/run_train", {{"config_path", "/home/u/proj/root_config.json"}}));
}

TEST(ParseShellCommand, RunEveryFlagInTheApiOrder) {
  ShellCommand c = parse(
      "run -CPU -DDP -sd -mc -ns -d \"first try\" -m 4000 -f freq.json -c /p/root_config.json");
  EXPECT_EQ(c.request, post("/run_train", {{"config_path", "/p/root_config.json"},
                                           {"freq_path", "/home/u/proj/freq.json"},
                                           {"memory_consumption", "4000"},
                                           {"description", "first try"},
                                           {"no_save", "True"},
                                           {"multi_GPU", "True"},
                                           {"use_description", "True"},
                                           {"DDP", "True"},
                                           {"CPU", "True"}}));
}

TEST(ParseShellCommand, RunJoinsBareWordsIntoTheValueLikeTheOriginal) {
  ShellCommand c = parse("run -c a.json -d my first run -CPU");
  EXPECT_EQ(c.request.params[1],
            (std::pair<std::string, std::string>{"description", "my first run"}));
}

TEST(ParseShellCommand, RunSingleQuotedDescription) {
  EXPECT_EQ(parse("run -c a.json -d 'it''s -ns'").request.params[1].second, "its -ns");
}

TEST(ParseShellCommand, QuotedWordStartingWithDashIsAValue) {
  ShellCommand c = parse("run -c a.json -d \"-ns\"");
  ASSERT_EQ(c.request.params.size(), 2u);
  EXPECT_EQ(c.request.params[1].second, "-ns");
}

TEST(ParseShellCommand, RunFlagsIgnoreCase) {
  ShellCommand c = parse("run -c a.json -cpu -ddp");
  EXPECT_EQ(c.request.params[1].first, "DDP");
  EXPECT_EQ(c.request.params[2].first, "CPU");
}

TEST(ParseShellCommand, RunNeedsAConfig) {
  EXPECT_EQ(error_of("run -CPU"),
            "run: missing -c CFG\n"
            "usage: run -c CFG [-f FREQ] [-m MB|auto] [-d DESC] [-ns] [-mc] [-sd] [-DDP] "
            "[-nproc N] [-CPU]");
  EXPECT_THAT(error_of("run"), StartsWith("run: missing -c CFG\n"));
}

TEST(ParseShellCommand, RunUnknownFlagIsNamed) {
  EXPECT_THAT(error_of("run -c a.json -j"), StartsWith("run: unknown option -j\nusage: run "));
  EXPECT_THAT(error_of("run -c a.json --cpu"), StartsWith("run: unknown option --cpu\n"));
}

TEST(ParseShellCommand, RunMemoryAutoIsPassedOn) {
  EXPECT_EQ(parse("run -c a.json -m auto").request.params[1],
            (std::pair<std::string, std::string>{"memory_consumption", "auto"}));
  EXPECT_EQ(parse("analyze -r pkg -m auto").request.params[1].second, "auto");
}

TEST(ParseShellCommand, RunMemoryMustBeANumberOrAuto) {
  EXPECT_THAT(error_of("run -c a.json -m lots"),
              StartsWith("run: -m needs a whole number of MB or auto, got 'lots'\n"));
  EXPECT_THAT(error_of("run -c a.json -m autox"),
              StartsWith("run: -m needs a whole number of MB or auto, got 'autox'\n"));
  EXPECT_THAT(error_of("run -c a.json -m 1.5"), StartsWith("run: -m needs a whole number"));
  EXPECT_THAT(error_of("run -c a.json -m"), StartsWith("run: -m needs a value (MB|auto)\n"));
  EXPECT_THAT(error_of("run -c a.json -m 100 200"), StartsWith("run: unexpected argument '200'\n"));
}

TEST(ParseShellCommand, RunMissingValueBeforeAnotherFlag) {
  EXPECT_THAT(error_of("run -c -CPU"), StartsWith("run: -c needs a value (CFG)\n"));
  EXPECT_THAT(error_of("run -c a.json -f"), StartsWith("run: -f needs a value (FREQ)\n"));
  EXPECT_THAT(error_of("run -c a.json -d"), StartsWith("run: -d needs a value (DESC)\n"));
}

TEST(ParseShellCommand, RunFlagTwiceIsAnError) {
  EXPECT_THAT(error_of("run -c a.json -c b.json"), StartsWith("run: -c given twice\n"));
  EXPECT_THAT(error_of("run -c a.json -CPU -cpu"), StartsWith("run: -CPU given twice\n"));
}

TEST(ParseShellCommand, RunStrayWordBeforeTheFlags) {
  EXPECT_THAT(error_of("run a.json"), StartsWith("run: unexpected argument 'a.json'\n"));
}

TEST(ParseShellCommand, RunEmptyQuotedDescription) {
  EXPECT_EQ(parse("run -c a.json -d ''").request.params[1],
            (std::pair<std::string, std::string>{"description", ""}));
}

// --- continue -----------------------------------------------------------------------------------

TEST(ParseShellCommand, ContinueMinimal) {
  ShellCommand c = parse("continue -r Saves/2024-01-01_00-00-00_1");
  EXPECT_EQ(c.action, ShellAction::kSubmit);
  EXPECT_EQ(c.request,
            post("/continue_train", {{"record_path", "/home/u/proj/Saves/2024-01-01_00-00-00_1"}}));
}

TEST(ParseShellCommand, ContinueEveryFlag) {
  ShellCommand c = parse("continue -r /s/p -c 3 -d again -m 100 -mc -DDP -nproc 4 -CPU");
  EXPECT_EQ(c.request, post("/continue_train", {{"record_path", "/s/p"},
                                                {"checkpoint_ID", "3"},
                                                {"description", "again"},
                                                {"memory_consumption", "100"},
                                                {"multi_GPU", "True"},
                                                {"DDP", "True"},
                                                {"nproc", "4"},
                                                {"CPU", "True"}}));
}

TEST(ParseShellCommand, ContinueNegativeCheckpointIsAValue) {
  EXPECT_EQ(parse("continue -r /s/p -c -1").request.params[1],
            (std::pair<std::string, std::string>{"checkpoint_ID", "-1"}));
}

TEST(ParseShellCommand, ContinueErrors) {
  EXPECT_EQ(error_of("continue -c 3"),
            "continue: missing -r PKG\n"
            "usage: continue -r PKG [-c ID] [-d DESC] [-m MB|auto] [-mc] [-DDP] [-nproc N] [-CPU]");
  EXPECT_THAT(error_of("continue -r /s/p -c latest"),
              StartsWith("continue: -c needs a whole number (ID), got 'latest'\n"));
  EXPECT_THAT(error_of("continue -r /s/p -ns"), StartsWith("continue: unknown option -ns\n"));
  EXPECT_THAT(error_of("continue -r /s/p -f x.json"), StartsWith("continue: unknown option -f\n"));
}

// --- analyze ------------------------------------------------------------------------------------

TEST(ParseShellCommand, AnalyzeEveryFlag) {
  ShellCommand c = parse("analyze -r pkg -c -2 -s scripts -m 500 -CPU");
  EXPECT_EQ(c.action, ShellAction::kSubmit);
  EXPECT_EQ(c.request, post("/analyze", {{"record_path", "/home/u/proj/pkg"},
                                         {"checkpoint_ID", "-2"},
                                         {"script_path", "/home/u/proj/scripts"},
                                         {"memory_consumption", "500"},
                                         {"CPU", "True"}}));
}

TEST(ParseShellCommand, AnalyzeErrors) {
  EXPECT_EQ(error_of("analyze"),
            "analyze: missing -r PKG\nusage: analyze -r PKG [-c ID] [-s DIR] [-m MB|auto] [-CPU]");
  EXPECT_THAT(error_of("analyze -r p -DDP"), StartsWith("analyze: unknown option -DDP\n"));
  EXPECT_THAT(error_of("analyze -r p -s"), StartsWith("analyze: -s needs a value (DIR)\n"));
}

// --- runExp, watch, withdraw
// ------------------------------------------------------------------------

TEST(ParseShellCommand, RunExpWithId) {
  ShellCommand c = parse("runExp A_1.2_3 getAcc");
  EXPECT_EQ(c.action, ShellAction::kRequest);
  EXPECT_EQ(c.request, post("/run_exp", {{"task_ID", "A_1.2_3"}, {"command", "getAcc"}}));
  EXPECT_EQ(c.done, "sent getAcc to A_1.2_3 (watch A_1.2_3 to see its output)");
}

TEST(ParseShellCommand, RunExpWithoutIdUsesTheWatchedTask) {
  ShellContext c = context();
  c.watched_task = "A_9";
  ShellCommand command = parse("runExp getAcc", c);
  EXPECT_EQ(command.request, post("/run_exp", {{"task_ID", "A_9"}, {"command", "getAcc"}}));
  EXPECT_EQ(command.done, "sent getAcc to A_9");
}

TEST(ParseShellCommand, RunExpWithoutIdAndNothingWatched) {
  EXPECT_EQ(error_of("runExp getAcc"),
            "runExp: no task ID given and no task watched (watch ID first, or name it)\n"
            "usage: runExp [ID] SCRIPT");
}

TEST(ParseShellCommand, RunExpArgumentCount) {
  EXPECT_EQ(error_of("runExp"), "runExp: missing SCRIPT\nusage: runExp [ID] SCRIPT");
  EXPECT_THAT(error_of("runExp A_1 a b"), StartsWith("runExp: unexpected argument 'b'\n"));
  EXPECT_THAT(error_of("runExp -x"), StartsWith("runExp: unknown option -x\n"));
}

TEST(ParseShellCommand, RunExpQuotedScript) {
  EXPECT_EQ(parse("runExp A_1 \"my script\"").request.params[1].second, "my script");
}

TEST(ParseShellCommand, WatchAsksForTheTask) {
  ShellCommand c = parse("watch A_1");
  EXPECT_EQ(c.action, ShellAction::kWatch);
  EXPECT_EQ(c.task_id, "A_1");
  EXPECT_EQ(c.request, get("/get_task", {{"task_ID", "A_1"}}));
  EXPECT_EQ(error_of("watch"), "watch: missing the task ID\nusage: watch ID");
  EXPECT_THAT(error_of("watch A_1 A_2"), StartsWith("watch: unexpected argument 'A_2'"));
}

TEST(ApplyReply, WatchSetsAndWithdrawClearsTheWatchedTask) {
  ShellContext c = context();
  ASSERT_TRUE(
      apply_reply(parse("watch A_1"),
                  Json{{"status", "success"}, {"info", {{"ID", "A_1"}, {"type", "Analyze"}}}}, c)
          .is_ok());
  EXPECT_EQ(c.watched_task, "A_1");
  // runExp now goes to the watched task.
  EXPECT_EQ(parse("runExp getAcc", c).request.params[0].second, "A_1");
  ShellCommand withdraw = parse("withdraw", c);
  EXPECT_EQ(withdraw.action, ShellAction::kWithdraw);
  ASSERT_TRUE(apply_reply(withdraw, Json::object(), c).is_ok());
  EXPECT_EQ(c.watched_task, "");
  EXPECT_FALSE(parse_shell_command("runExp getAcc", c).is_ok());
}

TEST(ApplyReply, WatchRefusesATrainingTask) {
  ShellContext c = context();
  Status s = apply_reply(parse("watch T_1"), Json{{"info", {{"ID", "T_1"}, {"type", "Train"}}}}, c);
  EXPECT_EQ(s.message(),
            "T_1 is a Train task; watch follows an analysis task (see `output T_1` for this one)");
  EXPECT_EQ(c.watched_task, "");
}

TEST(ApplyReply, WatchingAnotherTaskReplacesTheFirst) {
  ShellContext c = context();
  const Json analyze = {{"info", {{"type", "Analyze"}}}};
  ASSERT_TRUE(apply_reply(parse("watch A_1"), analyze, c).is_ok());
  ASSERT_TRUE(apply_reply(parse("watch A_2"), analyze, c).is_ok());
  EXPECT_EQ(c.watched_task, "A_2");
}

TEST(ParseShellCommand, WithdrawTakesNoArguments) {
  EXPECT_THAT(error_of("withdraw A_1"), StartsWith("withdraw: unexpected argument 'A_1'"));
}

// --- del, show*, output, history
// ------------------------------------------------------------------

TEST(ParseShellCommand, Del) {
  ShellCommand c = parse("del T_1");
  EXPECT_EQ(c.request, post("/del_task", {{"task_ID", "T_1"}}));
  EXPECT_EQ(c.done, "deleted T_1");
  EXPECT_EQ(error_of("del"), "del: missing the task ID\nusage: del ID");
}

TEST(ParseShellCommand, ShowTaskAndDevices) {
  EXPECT_EQ(parse("showTask").action, ShellAction::kShowTasks);
  EXPECT_EQ(parse("showTask").request, get("/get_task_info"));
  EXPECT_EQ(parse("showDevices").action, ShellAction::kShowDevices);
  EXPECT_EQ(parse("showDevices").request, get("/get_devices_info"));
  EXPECT_EQ(parse("showDevice").request, get("/get_devices_info"));  // the original's spelling
  EXPECT_THAT(error_of("showTask all"), StartsWith("showTask: unexpected argument 'all'"));
}

TEST(ParseShellCommand, ShowDLAsksFromTheLastOffset) {
  ShellContext c = context();
  ShellCommand first = parse("showDL", c);
  EXPECT_EQ(first.action, ShellAction::kShowOutput);
  EXPECT_EQ(first.request, get("/get_DLNest_output"));
  apply_reply(first, Json{{"offset", 0}, {"text", "abc"}, {"next_offset", 3}}, c);
  EXPECT_EQ(parse("showDL", c).request, get("/get_DLNest_output", {{"offset", "3"}}));
}

TEST(ParseShellCommand, ShowANWithAndWithoutId) {
  ShellContext c = context();
  EXPECT_EQ(parse("showAN A_1", c).request, get("/get_analyze_output", {{"task_ID", "A_1"}}));
  EXPECT_EQ(error_of("showAN", c),
            "showAN: no task ID given and no task watched\nusage: showAN [ID]");
  c.watched_task = "A_2";
  c.offsets["analyze:A_2"] = 10;
  EXPECT_EQ(parse("showAN", c).request,
            get("/get_analyze_output", {{"task_ID", "A_2"}, {"offset", "10"}}));
}

TEST(ParseShellCommand, OutputOfATask) {
  ShellContext c = context();
  ShellCommand first = parse("output T_1", c);
  EXPECT_EQ(first.action, ShellAction::kShowOutput);
  EXPECT_EQ(first.request, get("/get_task_output", {{"task_ID", "T_1"}}));
  apply_reply(first, Json{{"offset", 0}, {"text", "x"}, {"next_offset", 100}, {"size", 100}}, c);
  EXPECT_EQ(parse("output T_1", c).request,
            get("/get_task_output", {{"task_ID", "T_1"}, {"offset", "100"}}));
  // Other tasks keep their own offsets.
  EXPECT_EQ(parse("output T_2", c).request, get("/get_task_output", {{"task_ID", "T_2"}}));
  EXPECT_EQ(error_of("output"), "output: missing the task ID\nusage: output ID");
}

TEST(ParseShellCommand, History) {
  EXPECT_EQ(parse("history").action, ShellAction::kShowTasks);
  EXPECT_EQ(parse("history").request, get("/get_task_history"));
  EXPECT_EQ(parse("history 5").request, get("/get_task_history", {{"limit", "5"}}));
  EXPECT_THAT(error_of("history many"),
              StartsWith("history: N must be a whole number above 0, got 'many'"));
}

// --- settings -----------------------------------------------------------------------------------

TEST(ParseShellCommand, ChangeDevicesTakesSeveralIds) {
  ShellCommand c = parse("changeDevices -d 0 1 -1");
  EXPECT_EQ(c.request,
            post("/change_devices",
                 {{"new_devices_IDs", "0"}, {"new_devices_IDs", "1"}, {"new_devices_IDs", "-1"}}));
  EXPECT_EQ(c.done, "tasks may use devices 0 1 -1");
  EXPECT_EQ(parse("changeDevices -d 2,3").request.params.size(), 2u);
}

TEST(ParseShellCommand, ChangeDevicesErrors) {
  EXPECT_EQ(error_of("changeDevices"),
            "changeDevices: missing -d IDS\nusage: changeDevices -d IDS");
  EXPECT_THAT(error_of("changeDevices -d"), StartsWith("changeDevices: -d needs a value (IDS)\n"));
  EXPECT_THAT(error_of("changeDevices -d 0 gpu1"),
              StartsWith("changeDevices: -d takes whole numbers (IDS), got 'gpu1'\n"));
  EXPECT_THAT(error_of("changeDevices 0"), StartsWith("changeDevices: unexpected argument '0'\n"));
}

TEST(ParseShellCommand, ChangeDelayAndMax) {
  ShellCommand delay = parse("changeDelay 60");
  EXPECT_EQ(delay.request, post("/change_delay", {{"new_delay", "60"}}));
  EXPECT_EQ(delay.done, "the scheduler now runs every 60 s");
  ShellCommand max = parse("changeMax 4");
  EXPECT_EQ(max.request, post("/change_max_task_per_device", {{"new_max", "4"}}));
  EXPECT_EQ(max.done, "at most 4 tasks per device");
}

TEST(ParseShellCommand, ChangeDelayAndMaxNeedPositiveNumbers) {
  EXPECT_EQ(error_of("changeDelay"), "changeDelay: missing N\nusage: changeDelay N");
  EXPECT_THAT(error_of("changeDelay 0"),
              StartsWith("changeDelay: N must be a whole number above 0, got '0'"));
  EXPECT_THAT(error_of("changeMax -3"),
              StartsWith("changeMax: N must be a whole number above 0, got '-3'"));
  EXPECT_THAT(error_of("changeMax 2.5"), StartsWith("changeMax: N must be a whole number"));
}

TEST(ParseShellCommand, ClearHelpExit) {
  EXPECT_EQ(parse("clear").request, post("/clear"));
  EXPECT_EQ(parse("help").action, ShellAction::kHelp);
  EXPECT_EQ(parse("help").topic, "");
  EXPECT_EQ(parse("help run").topic, "run");
  EXPECT_EQ(parse("help showDevice").topic, "showDevices");
  EXPECT_EQ(error_of("help train"), "unknown command 'train' (type help for the list of commands)");
  EXPECT_EQ(parse("exit").action, ShellAction::kExit);
  EXPECT_EQ(parse("quit").action, ShellAction::kExit);
  EXPECT_THAT(error_of("exit now"), StartsWith("exit: unexpected argument 'now'"));
}

// --- watching -----------------------------------------------------------------------------------

TEST(WatchPoll, NothingWatchedNothingToPoll) {
  EXPECT_FALSE(watch_poll_command(context()).has_value());
}

TEST(WatchPoll, AsksForTheWatchedTaskFromItsOffset) {
  ShellContext c = context();
  c.watched_task = "A_1";
  std::optional<ShellCommand> poll = watch_poll_command(c);
  ASSERT_TRUE(poll.has_value());
  EXPECT_EQ(poll->request, get("/get_analyze_output", {{"task_ID", "A_1"}}));
  apply_reply(*poll, Json{{"offset", 0}, {"text", "hello\n"}, {"next_offset", 6}}, c);
  EXPECT_EQ(watch_poll_command(c)->request,
            get("/get_analyze_output", {{"task_ID", "A_1"}, {"offset", "6"}}));
  // showAN of the same task shares the offset, so nothing is printed twice.
  EXPECT_EQ(parse("showAN A_1", c).request, watch_poll_command(c)->request);
}

// --- help ---------------------------------------------------------------------------------------

TEST(ShellHelp, ListsEveryCommand) {
  const std::string help = *shell_help("");
  for (const char* name :
       {"new",           "addP",        "run",         "continue",    "analyze", "runExp", "watch",  "withdraw",
        "del",           "showTask",    "showDevices", "showDL",  "showAN", "output", "history",
        "changeDevices", "changeDelay", "changeMax",   "clear",   "help",   "exit"}) {
    EXPECT_THAT(help, HasSubstr(std::string("  ") + name)) << name;
  }
}

TEST(ShellHelp, OneCommandShowsItsFlags) {
  const std::string help = *shell_help("run");
  EXPECT_THAT(help, StartsWith("usage: run -c CFG"));
  EXPECT_THAT(help, HasSubstr("-c CFG"));
  EXPECT_THAT(help, HasSubstr("(required)"));
  EXPECT_THAT(help, HasSubstr("-DDP"));
  EXPECT_EQ(shell_help("nope").status().message(),
            "unknown command 'nope' (type help for the list of commands)");
}

// --- completion ---------------------------------------------------------------------------------

TEST(CompleteShellWord, CommandNames) {
  Completion c = complete_shell_word("sh", 0);
  EXPECT_EQ(c.kind, Completion::Kind::kWords);
  EXPECT_THAT(c.words, ElementsAre("showTask", "showDevices", "showDL", "showAN"));
  EXPECT_THAT(complete_shell_word("help con", 5).words, ElementsAre("continue"));
}

TEST(CompleteShellWord, Flags) {
  EXPECT_THAT(complete_shell_word("run -c a.json -D", 14).words, ElementsAre("-DDP"));
  EXPECT_THAT(complete_shell_word("analyze -", 8).words,
              ElementsAre("-r", "-c", "-s", "-m", "-CPU"));
  EXPECT_THAT(complete_shell_word("new -d x ", 9).words, ElementsAre("-d", "-MNIST", "-p"));
}

TEST(CompleteShellWord, PathsAfterPathFlags) {
  EXPECT_EQ(complete_shell_word("run -c ro", 7).kind, Completion::Kind::kPath);
  EXPECT_EQ(complete_shell_word("run -c a -f ", 12).kind, Completion::Kind::kPath);
  EXPECT_EQ(complete_shell_word("continue -r Sa", 12).kind, Completion::Kind::kPath);
  EXPECT_EQ(complete_shell_word("analyze -r p -s ", 16).kind, Completion::Kind::kPath);
  EXPECT_EQ(complete_shell_word("new -d ", 7).kind, Completion::Kind::kPath);
}

TEST(CompleteShellWord, NothingAfterAValueFlagOrForPositionalCommands) {
  EXPECT_EQ(complete_shell_word("continue -r p -c ", 17).kind, Completion::Kind::kNone);
  EXPECT_EQ(complete_shell_word("run -c a -d ", 12).kind, Completion::Kind::kNone);
  EXPECT_EQ(complete_shell_word("del T", 4).kind, Completion::Kind::kNone);
  EXPECT_EQ(complete_shell_word("nope -", 5).kind, Completion::Kind::kNone);
}

}  // namespace
}  // namespace dlnest
