#include "supervisor/proc_stat.h"

#include <gtest/gtest.h>
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
  const std::vector<ProcStat> group = list_group(::getpgrp());
  EXPECT_TRUE(std::any_of(group.begin(), group.end(),
                          [](const ProcStat& p) { return p.pid == ::getpid(); }));
  const std::vector<ProcStat> session = list_session(::getsid(0));
  EXPECT_TRUE(std::any_of(session.begin(), session.end(),
                          [](const ProcStat& p) { return p.pid == ::getpid(); }));
}

}  // namespace
}  // namespace dlnest
