#include "ledger/reservation_ledger.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "dlnest/config.h"
#include "env/regular_file.h"
#include "supervisor/proc_stat.h"

namespace dlnest {
namespace {

constexpr char kEntryPrefix[] = "server-";
constexpr char kEntrySuffix[] = ".json";
constexpr char kLockFile[] = "lock";
/// Caps on what another user's entry may make this server read.
constexpr size_t kMaxEntryBytes = 64 * 1024;
constexpr size_t kMaxEntries = 4096;
constexpr size_t kMaxReservationsPerEntry = 1024;

std::string errno_text() {
  return std::strerror(errno);
}

/// The uid and pid in an entry's name "server-<uid>-<pid>.json"; false for any other name.
bool parse_entry_name(const std::string& name, uid_t* uid, int* pid) {
  const std::string prefix = kEntryPrefix;
  const std::string suffix = kEntrySuffix;
  if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return false;
  }
  const std::string middle =
      name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  const size_t dash = middle.find('-');
  if (dash == std::string::npos) return false;
  char* end = nullptr;
  const unsigned long u = std::strtoul(middle.c_str(), &end, 10);
  if (end != middle.c_str() + dash) return false;
  const long p = std::strtol(middle.c_str() + dash + 1, &end, 10);
  if (*end != '\0' || p <= 0) return false;
  *uid = static_cast<uid_t>(u);
  *pid = static_cast<int>(p);
  return true;
}

/// Whether process `pid` lives, belongs to `uid` and started at `start_ticks`.
bool server_lives(int pid, uid_t uid, uint64_t start_ticks) {
  const std::optional<ProcStat> stat = read_proc_stat(pid);
  if (!stat || stat->is_zombie() || stat->start_ticks != start_ticks) return false;
  struct stat st {};
  return ::stat(("/proc/" + std::to_string(pid)).c_str(), &st) == 0 && st.st_uid == uid;
}

/// The live reservations of one entry file, added into `sums`; malformed entries add nothing.
void add_entry(const std::string& path, uid_t uid, int pid, double now, ReservedMb* sums) {
  Result<std::string> text = read_regular_file(path, kMaxEntryBytes, SymlinkPolicy::kRefuse);
  if (!text.is_ok()) return;
  const Json entry = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!entry.is_object() || !entry.contains("start_ticks") ||
      !entry["start_ticks"].is_number_unsigned() || !entry.contains("reservations") ||
      !entry["reservations"].is_array() ||
      entry["reservations"].size() > kMaxReservationsPerEntry) {
    return;
  }
  if (!server_lives(pid, uid, entry["start_ticks"].get<uint64_t>())) return;
  for (const Json& r : entry["reservations"]) {
    if (!r.is_object() || !r.contains("gpu") || !r["gpu"].is_number_integer() ||
        !r.contains("mb") || !r["mb"].is_number_integer() || !r.contains("expires_at") ||
        !r["expires_at"].is_number()) {
      continue;
    }
    const int gpu = r["gpu"].get<int>();
    const std::int64_t mb = r["mb"].get<std::int64_t>();
    if (gpu < 0 || mb <= 0 || r["expires_at"].get<double>() <= now) continue;
    (*sums)[gpu] += mb;
  }
}

uint64_t own_start_ticks() {
  const std::optional<ProcStat> stat = read_proc_stat(::getpid());
  return stat ? stat->start_ticks : 0;
}

}  // namespace

std::string default_ledger_dir() {
  const char* dir = std::getenv(kLedgerDirEnv);
  return dir != nullptr && *dir != '\0' ? dir : kDefaultLedgerDir;
}

Result<std::unique_ptr<FileLedger>> FileLedger::open(const std::string& dir) {
  if (::mkdir(dir.c_str(), 01777) == 0) {
    ::chmod(dir.c_str(), 01777);  // the umask took bits away
  } else if (errno != EEXIST) {
    return Status::io_error("reservation ledger " + dir + ": cannot create it: " + errno_text());
  }
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return Status::failed_precondition("reservation ledger " + dir +
                                       " is not a folder one can open: " + errno_text());
  }
  struct stat st {};
  ::fstat(fd, &st);
  const bool trusted_owner = st.st_uid == ::getuid() || st.st_uid == 0;
  if (!trusted_owner && (st.st_mode & S_ISVTX) == 0) {
    ::close(fd);
    return Status::failed_precondition(
        "reservation ledger " + dir + " belongs to uid " + std::to_string(st.st_uid) +
        " and is not sticky: that user could remove other servers' entries. Ask its owner to "
        "run 'chmod 1777 " + dir + "', or set " + kLedgerDirEnv + " (docs/scheduler.md)");
  }
  std::unique_ptr<FileLedger> ledger(new FileLedger(dir, fd));
  ledger->remove_dead_entries_of_this_user();
  return ledger;
}

FileLedger::FileLedger(std::string dir, int dir_fd)
    : dir_(std::move(dir)),
      dir_fd_(dir_fd),
      entry_(dir_ + "/" + kEntryPrefix + std::to_string(::getuid()) + "-" +
             std::to_string(::getpid()) + kEntrySuffix),
      start_ticks_(own_start_ticks()) {}

FileLedger::~FileLedger() {
  if (published_) ::unlinkat(dir_fd_, entry_.substr(dir_.size() + 1).c_str(), 0);
  unlock();
  if (lock_fd_ >= 0) ::close(lock_fd_);
  ::close(dir_fd_);
}

DIR* FileLedger::open_listing() const {
  const int fd = ::fcntl(dir_fd_, F_DUPFD_CLOEXEC, 0);
  DIR* d = fd >= 0 ? ::fdopendir(fd) : nullptr;
  if (d == nullptr) {
    if (fd >= 0) ::close(fd);
    return nullptr;
  }
  ::rewinddir(d);  // the duplicate shares the offset a previous listing left at the end
  return d;
}

void FileLedger::remove_dead_entries_of_this_user() {
  DIR* d = open_listing();
  if (d == nullptr) return;
  std::vector<std::string> dead;
  while (const dirent* e = ::readdir(d)) {
    uid_t uid = 0;
    int pid = 0;
    if (!parse_entry_name(e->d_name, &uid, &pid) || uid != ::getuid()) continue;
    const std::optional<ProcStat> stat = read_proc_stat(pid);
    if (!stat || stat->is_zombie()) dead.push_back(e->d_name);
  }
  ::closedir(d);
  for (const std::string& name : dead) ::unlinkat(dir_fd_, name.c_str(), 0);
}

Status FileLedger::lock() {
  if (lock_fd_ < 0) {
    lock_fd_ = ::openat(dir_fd_, kLockFile, O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                        0644);
    struct stat st {};
    if (lock_fd_ >= 0 && (::fstat(lock_fd_, &st) != 0 || !S_ISREG(st.st_mode))) {
      ::close(lock_fd_);
      lock_fd_ = -1;
      errno = EINVAL;
    }
    if (lock_fd_ < 0) {
      return Status::io_error("reservation ledger " + dir_ + "/" + kLockFile +
                              ": cannot open it as a regular file: " + errno_text());
    }
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kLedgerLockWaitMs);
  while (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      return Status::io_error("reservation ledger " + dir_ + ": cannot lock: " + errno_text());
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::failed_precondition("reservation ledger " + dir_ + ": another server held " +
                                       kLockFile + " for more than " +
                                       std::to_string(kLedgerLockWaitMs) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  locked_ = true;
  return Status::ok();
}

void FileLedger::unlock() {
  if (!locked_) return;
  ::flock(lock_fd_, LOCK_UN);
  locked_ = false;
}

ReservedMb FileLedger::others(double now) {
  ReservedMb sums;
  DIR* d = open_listing();
  if (d == nullptr) return sums;
  std::vector<std::pair<std::string, std::pair<uid_t, int>>> entries;
  while (const dirent* e = ::readdir(d)) {
    uid_t uid = 0;
    int pid = 0;
    if (!parse_entry_name(e->d_name, &uid, &pid)) continue;
    if (uid == ::getuid() && pid == ::getpid()) continue;  // this server's own
    entries.push_back({e->d_name, {uid, pid}});
    if (entries.size() == kMaxEntries) break;
  }
  ::closedir(d);
  for (const auto& [name, who] : entries) {
    struct stat st {};
    // The name's uid must be the file's owner: nobody can speak for another user's server.
    if (::fstatat(dir_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        st.st_uid != who.first || !S_ISREG(st.st_mode)) {
      continue;
    }
    add_entry(dir_ + "/" + name, who.first, who.second, now, &sums);
  }
  return sums;
}

Status FileLedger::publish(const std::vector<Reservation>& mine) {
  Json list = Json::array();
  for (const Reservation& r : mine) {
    list.push_back(
        {{"gpu", r.gpu}, {"mb", r.mb}, {"task", r.task_id}, {"expires_at", r.expires_at}});
  }
  const Json entry = {{"uid", ::getuid()},
                      {"pid", ::getpid()},
                      {"start_ticks", start_ticks_},
                      {"reservations", std::move(list)}};
  const std::string text = entry.dump() + "\n";
  const std::string name = entry_.substr(dir_.size() + 1);
  const std::string temp = "." + name + ".tmp";
  ::unlinkat(dir_fd_, temp.c_str(), 0);  // a leftover of ours; another user's stays and fails
  const int fd = ::openat(dir_fd_, temp.c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::io_error("reservation ledger " + dir_ + "/" + temp + ": " + errno_text());
  }
  ::fchmod(fd, 0644);  // readable by every server, whatever the umask
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!written || ::renameat(dir_fd_, temp.c_str(), dir_fd_, name.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlinkat(dir_fd_, temp.c_str(), 0);
    return Status::io_error("reservation ledger " + entry_ + ": cannot write it: " + why);
  }
  published_ = true;
  return Status::ok();
}

}  // namespace dlnest
