// The analyzer as the original clients and `dlnest exp` use it, with real processes only: a
// `dlnest server`, a CPU training of the empty template, an analysis task sent scripts before it
// is ready and while it is busy, its latest output read plain and styled, and a failing training
// whose error names the reason.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "dlnest/config.h"
#include "dlnest/env.h"
#include "env/path.h"
#include "project/project_builder.h"
#include "server/server_process_test_util.h"
#include "testing/run_binary.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using testing::TempDir;
using Clock = std::chrono::steady_clock;

constexpr const char* kLinesScript = R"(#include <dlnest/experiment.h>
#include <iostream>
void lines(dlnest::Experiment&) {
  for (int i = 0; i < 3000; ++i) std::cout << "line " << i << " of a long experiment output\n";
  std::cout << std::flush;
}
DLNEST_EXPERIMENT(lines)
)";

constexpr const char* kBoomScript = R"(#include <dlnest/experiment.h>
#include <stdexcept>
void boom(dlnest::Experiment&) { throw std::runtime_error("boom from a script"); }
DLNEST_EXPERIMENT(boom)
)";

/// `dlnest --server 127.0.0.1:PORT exp ID SCRIPT`: its exit code and stdout.
std::pair<int, std::string> run_exp_command(int port, const std::string& id,
                                            const std::string& script) {
  const testing::BinaryRun run =
      testing::run_binary({std::string(DLNEST_BIN_DIR) + "/dlnest", "--server",
                           "127.0.0.1:" + std::to_string(port), "exp", id, script});
  return {run.exit_code, run.out};
}

class AnalyzerE2eTest : public testing::ServerBinaryTest {
 protected:
  void SetUp() override {
    project_ = dir_.file("proj");
    ASSERT_TRUE(create_project(project_, /*mnist=*/false).is_ok());
    dir_.write("quick.json", R"({"epochs": 2})");
    dir_.write("bad.json", R"({"epochs": 2, "model_hidden": "oops"})");
    start_server();
  }

  std::string submit(const char* freq) {
    const Json reply = call("POST", "/run_train",
                            {{"config_path", path::join(project_, "root_config.json")},
                             {"freq_path", dir_.file(freq)},
                             {"CPU", "True"}});
    EXPECT_EQ(reply.value("status", ""), "success") << reply;
    return reply.value("task_ID", "");
  }

  /// The task's whole output once it contains `marker`.
  std::string wait_output(const std::string& id, const std::string& marker) {
    const auto deadline = Clock::now() + std::chrono::seconds(300);
    std::string text;
    while (Clock::now() < deadline) {
      text = call("GET", "/get_task_output",
                  {{"task_ID", id}, {"offset", "0"}, {"max_bytes", "4000000"}})["text"];
      if (text.find(marker) != std::string::npos) return text;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "no \"" << marker << "\" in the output of " << id << ":\n" << text;
    return text;
  }

  TempDir dir_;
  std::string project_;
};

TEST_F(AnalyzerE2eTest, ScriptsSentEarlyRunInOrderAndTheLatestOutputComesStyledByLine) {
  const std::string package = wait_state(submit("quick.json"), "Finished")["package_dir"];
  const std::string scripts = path::join(package, "AnalyzeScripts");
  ASSERT_TRUE(
      write_file_atomically(Env::default_env(), path::join(scripts, "lines.cpp"), kLinesScript)
          .is_ok());
  ASSERT_TRUE(
      write_file_atomically(Env::default_env(), path::join(scripts, "boom.cpp"), kBoomScript)
          .is_ok());
  const Json started = call("POST", "/analyze", {{"record_path", package}, {"CPU", "True"}});
  ASSERT_EQ(started["status"], "success") << started;
  const std::string id = started["task_ID"];
  // At once, before the analyzer is ready, and again while it compiles: queued, answered now.
  for (const char* script : {"lines", "showModel"}) {
    const auto begin = Clock::now();
    const Json r = call("POST", "/run_exp", {{"task_ID", id}, {"command", script}});
    EXPECT_EQ(r["status"], "success") << script << ": " << r;
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - begin).count(), 1.0) << script;
  }
  const std::string all = wait_output(id, "showModel.cpp finished");
  EXPECT_LT(all.find("lines.cpp finished"), all.find("showModel.cpp"));

  // The latest output: the tail of the whole, from a line start, and by line when styled.
  const Json plain = call("GET", "/get_analyze_output", {{"task_ID", id}});
  const std::string tail = plain["text"];
  const int64_t offset = plain["offset"];
  ASSERT_GT(offset, 0);
  EXPECT_EQ(all.substr(static_cast<size_t>(offset)), tail);
  EXPECT_EQ(all[static_cast<size_t>(offset) - 1], '\n');
  const Json styled = call("GET", "/get_analyze_output", {{"task_ID", id}, {"styled", "True"}});
  std::string joined;
  size_t newlines = 0;
  for (const Json& pair : styled["text"]) {
    const std::string text = pair[1];
    EXPECT_TRUE(text == "\n" || text.find('\n') == std::string::npos) << text;
    newlines += text == "\n";
    joined += text;
  }
  EXPECT_EQ(joined, tail);
  EXPECT_EQ(newlines, static_cast<size_t>(std::count(tail.begin(), tail.end(), '\n')));

  // dlnest exp: the script's output, then its outcome as the exit code.
  const auto [ok_code, ok_out] = run_exp_command(port_, id, "lines");
  EXPECT_EQ(ok_code, 0) << ok_out;
  EXPECT_NE(ok_out.find("line 2999 of a long experiment output\n"), std::string::npos);
  const auto [boom_code, boom_out] = run_exp_command(port_, id, "boom");
  EXPECT_EQ(boom_code, 1) << boom_out;
  EXPECT_NE(boom_out.find("boom from a script"), std::string::npos) << boom_out;
  EXPECT_EQ(call("POST", "/del_task", {{"task_ID", id}})["status"], "success");
  wait_state(id, "Killed", 30);
}

TEST_F(AnalyzerE2eTest, AFailedTaskSaysWhyOnce) {
  const Json failed = wait_state(submit("bad.json"), "Failed");
  const std::string error = failed["error"];
  EXPECT_EQ(error.rfind("stage ModelInit: ", 0), 0u) << error;
  EXPECT_EQ(error.find("exited with code 1"), error.size() - 19) << error;
  EXPECT_EQ(error.find("exited with code 1; "), std::string::npos) << error;
}

}  // namespace
}  // namespace dlnest
