// The command channel and queue between a server and an analyzer, over real Unix sockets, with
// the commands sent from child processes as the server sends them.
#include "analyzer/command_channel.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "analyzer/command_queue.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using Clock = std::chrono::steady_clock;

/// Sends `command` from a child process; returns its exit code (0: accepted, 1: refused,
/// 2: no answer in time) and how long the answer took.
std::pair<int, double> send_from_child(const std::string& socket, const std::string& command) {
  const auto begin = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const Status s = send_analyzer_command(socket, command, 3000);
    ::_exit(s.is_ok() ? 0 : s.message().find("no answer") != std::string::npos ? 2 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WEXITSTATUS(status), std::chrono::duration<double>(Clock::now() - begin).count()};
}

/// Resolves every name but "missing" to "<name>.cpp".
Result<std::string> resolve(const std::string& command) {
  if (command == "missing") return Status::not_found("no script missing.cpp");
  return script_file_name(command);
}

TEST(CommandChannelTest, CommandsSentBeforeTheAnalyzerListensWaitForIt) {
  testing::TempDir dir;
  const std::string socket = dir.file("A_1.sock");
  EXPECT_EQ(send_from_child(socket, "first").first, 0);
  EXPECT_EQ(send_from_child(socket, "second.cpp").first, 0);
  EXPECT_EQ(send_from_child(socket, "../etc").first, 1);  // not a plain name: refused at once
  auto queue = CommandQueue::start(socket, resolve);
  ASSERT_TRUE(queue.is_ok()) << queue.status().message();
  EXPECT_EQ(send_from_child(socket, "third").first, 0);
  EXPECT_EQ(send_from_child(socket, "missing").first, 1);
  std::vector<std::string> order;
  for (int i = 0; i < 4; ++i) {
    QueuedCommand c = (*queue)->pop();
    order.push_back(c.command + (c.source.is_ok() ? "" : " (refused)"));
  }
  EXPECT_EQ(order, (std::vector<std::string>{"first", "second.cpp", "third", "missing (refused)"}));
  EXPECT_TRUE((*queue)->empty());
}

TEST(CommandChannelTest, ABusyAnalyzerAnswersAtOnceAndRunsCommandsInOrder) {
  testing::TempDir dir;
  const std::string socket = dir.file("A_2.sock");
  auto queue = CommandQueue::start(socket, resolve);
  ASSERT_TRUE(queue.is_ok()) << queue.status().message();
  // Nothing pops for a while (a script compiling): every sender still gets its answer at once.
  for (const char* name : {"a", "b", "c"}) {
    const auto [code, seconds] = send_from_child(socket, name);
    EXPECT_EQ(code, 0) << name;
    EXPECT_LT(seconds, 1.0) << name;
  }
  for (const char* name : {"a", "b", "c"}) {
    QueuedCommand c = (*queue)->pop();
    EXPECT_EQ(c.command, name);
    EXPECT_EQ(*c.source, std::string(name) + ".cpp");
  }
}

TEST(CommandChannelTest, ScriptNamesAndEndLines) {
  EXPECT_TRUE(check_script_name("getAcc", "dir").is_ok());
  EXPECT_TRUE(check_script_name("get-acc_2.cpp", "dir").is_ok());
  for (const char* bad : {"", ".hidden", "a/b", "..", "x..y", "/etc/passwd"}) {
    EXPECT_FALSE(check_script_name(bad, "dir").is_ok()) << bad;
  }
  EXPECT_EQ(script_end_line("getAcc", true), "[DLNest Analyze Process] getAcc.cpp finished");
  EXPECT_EQ(script_end_line("getAcc.cpp", false), "[DLNest Analyze Process] getAcc.cpp failed");
}

}  // namespace
}  // namespace dlnest
