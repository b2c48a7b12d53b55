#include "supervisor/proc_stat.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

namespace dlnest {
namespace {

const char kStat[] =
    "4242 (a) b (c)) S 17 4240 4240 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200\n";

TEST(ProcStatTest, CountsFieldsFromTheLastParenthesis) {
  const std::optional<ProcStat> stat = parse_proc_stat(kStat);
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->pid, 4242);
  EXPECT_EQ(stat->state, 'S');
  EXPECT_EQ(stat->ppid, 17);
  EXPECT_EQ(stat->pgrp, 4240);
  EXPECT_EQ(stat->session, 4240);
  EXPECT_EQ(stat->start_ticks, 987654u);
  EXPECT_FALSE(stat->is_zombie());
}

TEST(ProcStatTest, KeepsZombies) {
  std::string text = kStat;
  text[text.find(") S") + 2] = 'Z';
  const std::optional<ProcStat> stat = parse_proc_stat(text);
  ASSERT_TRUE(stat);
  EXPECT_TRUE(stat->is_zombie());
}

TEST(ProcStatTest, RejectsMalformedText) {
  EXPECT_FALSE(parse_proc_stat(""));
  EXPECT_FALSE(parse_proc_stat("12 (x"));
  EXPECT_FALSE(parse_proc_stat("12 (x) S 1 2 3"));
  EXPECT_FALSE(parse_proc_stat("x (y) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"));
}

TEST(ProcStatTest, ReadsThisProcess) {
  const std::optional<ProcStat> stat = read_proc_stat(::getpid());
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->pid, ::getpid());
  EXPECT_EQ(stat->ppid, ::getppid());
  EXPECT_EQ(stat->pgrp, ::getpgrp());
  EXPECT_EQ(stat->session, ::getsid(0));
  EXPECT_GT(stat->start_ticks, 0u);
  EXPECT_FALSE(read_proc_stat(0));
}

// A process that leads its own session finds itself in the listings of its
// group and session. The test runs in a child that calls setsid(): the test
// runner's own session may be led from outside this pid namespace, where
// getsid() reports 0.
TEST(ProcStatTest, ListsTheGroupAndSessionOfASessionLeader) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setsid() < 0) ::_exit(2);
    const auto contains_self = [](const std::vector<ProcStat>& list) {
      return std::any_of(list.begin(), list.end(),
                         [](const ProcStat& p) { return p.pid == ::getpid(); });
    };
    const bool ok = contains_self(list_group(::getpid())) &&
                    contains_self(list_session(::getpid())) && list_session(0).empty();
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace dlnest
