#include "client/shell.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <sstream>

namespace dlnest {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

/// Answers requests from a script: per path, a queue of replies (the last one repeats).
class FakeApiClient : public ApiClient {
 public:
  FakeApiClient() : ApiClient(unreachable()) {}

  static ClientOptions unreachable() {
    ClientOptions options;
    options.server = "127.0.0.1:1";
    options.state_dir = "/nonexistent";
    return options;
  }

  void answer(const std::string& path, Result<Json> reply) { replies_[path].push_back(reply); }

  Result<Json> get(const std::string& path, const ApiParams& params) override {
    return reply(ApiRequest{HttpMethod::kGet, path, params});
  }
  Result<Json> post(const std::string& path, const ApiParams& params) override {
    return reply(ApiRequest{HttpMethod::kPost, path, params});
  }

  std::vector<ApiRequest> requests;

 private:
  Result<Json> reply(const ApiRequest& request) {
    requests.push_back(request);
    auto it = replies_.find(request.path);
    if (it == replies_.end() || it->second.empty()) {
      return Status::not_found("no reply scripted for " + request.what());
    }
    Result<Json> r = it->second.front();
    if (it->second.size() > 1) it->second.pop_front();
    return r;
  }

  std::map<std::string, std::deque<Result<Json>>> replies_;
};

Json success(Json fields = Json::object()) {
  fields["status"] = "success";
  return fields;
}

struct ShellRun {
  int code;
  std::string out;
  std::string err;
};

ShellRun run(FakeApiClient& client, const std::string& input) {
  std::istringstream in(input);
  std::ostringstream out;
  std::ostringstream err;
  ShellOptions options;
  options.cwd = "/work";
  options.input = &in;
  options.output = &out;
  options.errors = &err;
  options.clock = [] { return 1000.0; };
  const int code = run_shell(client, options);
  return {code, out.str(), err.str()};
}

TEST(Shell, SubmitsARunAndPrintsTheTask) {
  FakeApiClient client;
  client.answer("/run_train", success({{"task_ID", "T_1"}, {"record_path", "/work/Saves/2024_1"}}));
  ShellRun r = run(client, "run -c root_config.json -CPU\n");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "started T_1, package /work/Saves/2024_1\n");
  EXPECT_EQ(r.err, "");
  ASSERT_EQ(client.requests.size(), 1u);
  EXPECT_EQ(client.requests[0].params[0].second, "/work/root_config.json");
}

TEST(Shell, ShowTaskPrintsATable) {
  FakeApiClient client;
  client.answer("/get_task_info",
                success({{"info", Json::parse(R"([{"ID":"T_1","type":"Train","status":"Running",
                    "devices":[0],"start_time":990,"description":"d"}])")}}));
  ShellRun r = run(client, "showTask\n");
  EXPECT_EQ(r.out,
            "ID   TYPE   STATUS   PROGRESS  DEVICES  ELAPSED  DESCRIPTION\n"
            "T_1  Train  Running  -         0        10s      d\n");
}

TEST(Shell, ErrorsAreReportedAndTheShellGoesOn) {
  FakeApiClient client;
  client.answer("/del_task", Status::failed_precondition("task T_9 does not exist"));
  client.answer("/clear", success());
  ShellRun r = run(client, "bogus\ndel T_9\nclear\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "error: unknown command 'bogus' (type help for the list of commands)\n"
            "error: task T_9 does not exist\n");
  EXPECT_EQ(r.out, "cleared the server's messages\n");
}

TEST(Shell, ExitStopsReading) {
  FakeApiClient client;
  ShellRun r = run(client, "exit\nshowTask\n");
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(client.requests.empty());
}

TEST(Shell, ShowDLPrintsOnlyWhatIsNew) {
  FakeApiClient client;
  client.answer("/get_DLNest_output",
                success({{"offset", 0}, {"text", "one\n"}, {"next_offset", 4}}));
  client.answer("/get_DLNest_output", success({{"offset", 4}, {"text", ""}, {"next_offset", 4}}));
  client.answer("/get_DLNest_output",
                success({{"offset", 10}, {"text", "three"}, {"next_offset", 15}}));
  ShellRun r = run(client, "showDL\nshowDL\nshowDL\n");
  EXPECT_EQ(r.out,
            "one\n"
            "(nothing new)\n"
            "[... 6 bytes the server no longer holds ...]\n"
            "three\n");
  ASSERT_EQ(client.requests.size(), 3u);
  EXPECT_TRUE(client.requests[0].params.empty());
  EXPECT_EQ(client.requests[1].params, (ApiParams{{"offset", "4"}}));
  EXPECT_EQ(client.requests[2].params, (ApiParams{{"offset", "4"}}));
}

TEST(Shell, StyledOutputIsPrintedAsText) {
  FakeApiClient client;
  client.answer("/get_DLNest_output",
                success({{"offset", 0},
                         {"text", Json::parse(R"([["#ff0f9f bold","[Run train] "],["","T_1\n"]])")},
                         {"next_offset", 16}}));
  EXPECT_EQ(run(client, "showDL\n").out, "[Run train] T_1\n");
}

TEST(Shell, WatchedTaskOutputFollowsEveryCommand) {
  FakeApiClient client;
  client.answer("/get_task", success({{"info", {{"ID", "A_1"}, {"type", "Analyze"}}}}));
  client.answer("/get_analyze_output",
                success({{"offset", 0}, {"text", "[Analyze] waiting\n"}, {"next_offset", 18}}));
  client.answer("/get_analyze_output",
                success({{"offset", 18}, {"text", "[getAcc] 0.89\n"}, {"next_offset", 32}}));
  client.answer("/get_analyze_output",
                success({{"offset", 32}, {"text", ""}, {"next_offset", 32}}));
  client.answer("/run_exp", success());
  ShellRun r = run(client, "watch A_1\nrunExp getAcc\n\nwithdraw\n\n");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out,
            "watching A_1: its new output follows every command (withdraw to stop)\n"
            "[Analyze] waiting\n"
            "sent getAcc to A_1\n"
            "[getAcc] 0.89\n"
            "stopped watching A_1\n");
  // watch, poll, run_exp, poll, poll (blank line); nothing after withdraw.
  ASSERT_EQ(client.requests.size(), 5u);
  EXPECT_EQ(client.requests[2].params, (ApiParams{{"task_ID", "A_1"}, {"command", "getAcc"}}));
  EXPECT_EQ(client.requests[3].params, (ApiParams{{"task_ID", "A_1"}, {"offset", "18"}}));
  EXPECT_EQ(client.requests[4].params, (ApiParams{{"task_ID", "A_1"}, {"offset", "32"}}));
}

TEST(Shell, WatchRefusesATrainingTask) {
  FakeApiClient client;
  client.answer("/get_task", success({{"info", {{"ID", "T_1"}, {"type", "Train"}}}}));
  ShellRun r = run(client, "watch T_1\n\n");
  EXPECT_THAT(r.err, HasSubstr("error: T_1 is a Train task"));
  EXPECT_THAT(r.out, Not(HasSubstr("watching")));
  EXPECT_EQ(client.requests.size(), 1u);
}

TEST(Shell, WatchedTaskThatVanishesIsDropped) {
  FakeApiClient client;
  client.answer("/get_task", success({{"info", {{"ID", "A_1"}, {"type", "Analyze"}}}}));
  client.answer("/get_analyze_output", Status::failed_precondition("task A_1 does not exist"));
  ShellRun r = run(client, "watch A_1\n\n");
  EXPECT_EQ(r.err, "error: watching A_1: task A_1 does not exist\n");
  EXPECT_THAT(r.out, HasSubstr("stopped watching A_1\n"));
  EXPECT_EQ(client.requests.size(), 2u);  // no poll after the blank line
}

TEST(Shell, AnalyzeSuggestsWatching) {
  FakeApiClient client;
  client.answer("/analyze", success({{"task_ID", "A_5"}}));
  EXPECT_EQ(run(client, "analyze -r /p\n").out, "started A_5 (watch A_5 to follow its output)\n");
}

TEST(Shell, HelpNeedsNoServer) {
  FakeApiClient client;
  ShellRun r = run(client, "help\nhelp run\n");
  EXPECT_THAT(r.out, HasSubstr("changeDevices -d IDS"));
  EXPECT_THAT(r.out, HasSubstr("usage: run -c CFG"));
  EXPECT_TRUE(client.requests.empty());
}

}  // namespace
}  // namespace dlnest
