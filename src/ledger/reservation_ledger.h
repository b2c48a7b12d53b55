// The machine-wide reservation ledger: every DLNest server on a machine, whoever runs it, tells
// the others which GPU memory it has promised to tasks that have not allocated it yet, so that
// two servers never place tasks on the same free memory. docs/scheduler.md and
// docs/security.md describe it.
//
// The ledger is a folder (sticky and writable by everyone, like /tmp) holding one entry file per
// live server, replaced atomically and readable by all, and a lock file that serializes the
// servers' scheduling rounds. An entry counts only while the server that wrote it lives (its pid
// and start time) and belongs to the entry file's owner, and each reservation only until its
// expiry: a killed server's reservations end with it. Linux only.
#pragma once

#include <dirent.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dlnest/status.h"

namespace dlnest {

/// Memory a server has promised to a task on one GPU, until the task's use shows in the
/// measured free memory or `expires_at` (wall-clock seconds) has passed.
struct Reservation {
  int gpu = 0;
  std::int64_t mb = 0;
  std::string task_id;
  double expires_at = 0;
};

/// MB reserved per GPU index.
using ReservedMb = std::map<int, std::int64_t>;

/// The seam the dispatcher schedules through. A round is lock(), others(), publish(), unlock().
class ReservationLedger {
 public:
  virtual ~ReservationLedger() = default;
  /// Waits (a bounded time) for the machine-wide lock. An error means the round goes on without
  /// it; the caller logs it.
  virtual Status lock() = 0;
  /// Releases the lock (nothing when not held).
  virtual void unlock() = 0;
  /// What the other live servers have reserved, summed per GPU, at wall-clock time `now`.
  virtual ReservedMb others(double now) = 0;
  /// Replaces this server's reservations with `mine`.
  virtual Status publish(const std::vector<Reservation>& mine) = 0;
};

/// The environment variable that moves the ledger folder (all servers must agree on it).
inline constexpr char kLedgerDirEnv[] = "DLNEST_LEDGER_DIR";
/// The ledger folder when the environment does not name one.
inline constexpr char kDefaultLedgerDir[] = "/tmp/dlnest-ledger";
/// How long lock() waits for another server's round to end.
inline constexpr int kLedgerLockWaitMs = 2000;

/// $DLNEST_LEDGER_DIR, else kDefaultLedgerDir.
std::string default_ledger_dir();

/// The ledger in a folder shared by every server of the machine.
class FileLedger : public ReservationLedger {
 public:
  /// Opens (creating it mode 1777 when missing) the ledger folder `dir` and removes this user's
  /// entries of servers that no longer live. The folder must be a real folder (not a link),
  /// owned by this user or root, or sticky (so that nobody but an entry's owner can replace it).
  static Result<std::unique_ptr<FileLedger>> open(const std::string& dir);
  ~FileLedger() override;

  Status lock() override;
  void unlock() override;
  ReservedMb others(double now) override;
  Status publish(const std::vector<Reservation>& mine) override;

  /// This server's entry file.
  const std::string& entry_file() const { return entry_; }

 private:
  FileLedger(std::string dir, int dir_fd);
  void remove_dead_entries_of_this_user();
  /// A listing of the folder from its start (closedir() it).
  DIR* open_listing() const;

  std::string dir_;
  int dir_fd_;
  int lock_fd_ = -1;
  bool locked_ = false;
  std::string entry_;   // <dir>/server-<uid>-<pid>.json
  bool published_ = false;
  uint64_t start_ticks_;  // this process's start time, which readers check the pid against
};

}  // namespace dlnest
