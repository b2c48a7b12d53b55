// The reservation ledger between real processes: a "server" is a forked child that opens the
// ledger, publishes and lives until told to end.
#include "ledger/reservation_ledger.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "testing/temp_dir.h"

namespace dlnest {
namespace {

double wall_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

/// A child process that opens the ledger in `dir`, publishes `mine` (holding the lock when
/// `hold_lock`), reports on a pipe and waits to be killed.
class LedgerChild {
 public:
  LedgerChild(const std::string& dir, std::vector<Reservation> mine, bool hold_lock = false) {
    int ready[2];
    EXPECT_EQ(::pipe(ready), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      auto ledger = FileLedger::open(dir);
      if (!ledger.is_ok()) ::_exit(3);
      if (hold_lock && !(*ledger)->lock().is_ok()) ::_exit(4);
      if (!(*ledger)->publish(mine).is_ok()) ::_exit(5);
      const char ok = 'y';
      (void)::write(ready[1], &ok, 1);
      for (;;) ::pause();
    }
    ::close(ready[1]);
    char c = 0;
    EXPECT_EQ(::read(ready[0], &c, 1), 1) << "the child could not publish";
    ::close(ready[0]);
  }
  ~LedgerChild() { kill(); }
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  int pid() const { return pid_; }

 private:
  pid_t pid_ = 0;
};

class LedgerTest : public ::testing::Test {
 protected:
  std::unique_ptr<FileLedger> open() {
    auto ledger = FileLedger::open(dir_.file("ledger"));
    EXPECT_TRUE(ledger.is_ok()) << ledger.status().message();
    return ledger.is_ok() ? std::move(ledger).value() : nullptr;
  }
  std::string ledger_dir() const { return dir_.file("ledger"); }

  testing::TempDir dir_;
};

TEST_F(LedgerTest, CreatesAStickyFolderEveryoneMayWrite) {
  auto ledger = open();
  struct stat st {};
  ASSERT_EQ(::stat(ledger_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
}

TEST_F(LedgerTest, SeesTheReservationsOfAnotherLiveServerUntilItIsKilled) {
  auto ledger = open();
  const double later = wall_now() + 600;
  LedgerChild other(ledger_dir(), {{0, 3000, "T_a", later}, {0, 500, "T_b", later},
                                   {1, 700, "T_c", later}});
  ReservedMb seen = ledger->others(wall_now());
  EXPECT_EQ(seen[0], 3500);
  EXPECT_EQ(seen[1], 700);
  other.kill();
  EXPECT_TRUE(ledger->others(wall_now()).empty());
}

TEST_F(LedgerTest, OwnReservationsAreNotCountedAsOthers) {
  auto ledger = open();
  ASSERT_TRUE(ledger->publish({{0, 1000, "T_a", wall_now() + 600}}).is_ok());
  EXPECT_TRUE(ledger->others(wall_now()).empty());
}

TEST_F(LedgerTest, ExpiredReservationsEnd) {
  auto ledger = open();
  LedgerChild other(ledger_dir(), {{0, 3000, "T_a", wall_now() + 1}, {0, 5, "T_b", wall_now() + 600}});
  EXPECT_EQ(ledger->others(wall_now())[0], 3005);
  EXPECT_EQ(ledger->others(wall_now() + 2)[0], 5);
}

TEST_F(LedgerTest, AnEntryOfADeadServerIsIgnoredAndItsOwnerRemovesIt) {
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  auto ledger = open();
  const std::string stale = ledger_dir() + "/server-" + std::to_string(::getuid()) + "-" +
                            std::to_string(dead) + ".json";
  std::ofstream(stale) << R"({"uid":0,"pid":1,"start_ticks":1,"reservations":[{"gpu":0,"mb":9,"expires_at":1e12}]})";
  EXPECT_TRUE(ledger->others(wall_now()).empty());
  auto second = open();  // a new server of this user cleans up
  EXPECT_NE(::access(stale.c_str(), F_OK), 0);
}

TEST_F(LedgerTest, MalformedOrHostileEntriesCountForNothingAndNeverBlock) {
  auto ledger = open();
  const std::string dir = ledger_dir();
  const std::string mine = std::to_string(::getuid()) + "-" + std::to_string(::getppid());
  std::ofstream(dir + "/server-" + std::to_string(::getuid()) + "-1.json") << "not json";
  ASSERT_EQ(::mkfifo((dir + "/server-" + mine + ".json").c_str(), 0644), 0);
  ASSERT_EQ(::symlink("/etc/passwd", (dir + "/server-" + std::to_string(::getuid()) + "-2.json").c_str()),
            0);
  std::ofstream(dir + "/server-" + std::to_string(::getuid()) + "-3.json")
      << std::string(100 * 1024, ' ');
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(ledger->others(wall_now()).empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST_F(LedgerTest, AnEntryNamedForAnotherUserIsIgnored) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root to tell the owner apart from the name";
  auto ledger = open();
  LedgerChild other(ledger_dir(), {{0, 3000, "T_a", wall_now() + 600}});
  // The same content, under a name that claims uid 65534: the file belongs to root.
  const std::string real = ledger_dir() + "/server-0-" + std::to_string(other.pid()) + ".json";
  const std::string forged =
      ledger_dir() + "/server-65534-" + std::to_string(other.pid()) + ".json";
  ASSERT_EQ(::link(real.c_str(), forged.c_str()), 0);
  EXPECT_EQ(ledger->others(wall_now())[0], 3000);  // counted once, as root's
}

TEST_F(LedgerTest, TheLockIsExclusiveAndItsWaitIsBounded) {
  auto ledger = open();
  {
    LedgerChild holder(ledger_dir(), {}, /*hold_lock=*/true);
    const auto start = std::chrono::steady_clock::now();
    const Status s = ledger->lock();
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("another server"), std::string::npos) << s.message();
    EXPECT_GE(waited, std::chrono::milliseconds(kLedgerLockWaitMs));
    EXPECT_LT(waited, std::chrono::milliseconds(kLedgerLockWaitMs + 1000));
  }
  EXPECT_TRUE(ledger->lock().is_ok());  // a killed holder's lock is gone with it
  ledger->unlock();
}

TEST_F(LedgerTest, AFolderOfAnotherUserThatIsNotStickyIsRefused) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root to give the folder away";
  const std::string dir = ledger_dir();
  ASSERT_EQ(::mkdir(dir.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0777), 0);
  ASSERT_EQ(::chown(dir.c_str(), 65534, 65534), 0);
  auto ledger = FileLedger::open(dir);
  ASSERT_FALSE(ledger.is_ok());
  EXPECT_NE(ledger.status().message().find(dir), std::string::npos);
  EXPECT_NE(ledger.status().message().find("not sticky"), std::string::npos);
}

TEST_F(LedgerTest, ASymlinkInPlaceOfTheFolderIsRefused) {
  ASSERT_EQ(::symlink(dir_.path().c_str(), ledger_dir().c_str()), 0);
  EXPECT_FALSE(FileLedger::open(ledger_dir()).is_ok());
}

TEST_F(LedgerTest, TheEntryIsRemovedWhenTheServerEnds) {
  std::string entry;
  {
    auto ledger = open();
    ASSERT_TRUE(ledger->publish({{0, 1, "T_a", wall_now() + 600}}).is_ok());
    entry = ledger->entry_file();
    EXPECT_EQ(::access(entry.c_str(), F_OK), 0);
  }
  EXPECT_NE(::access(entry.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace dlnest
