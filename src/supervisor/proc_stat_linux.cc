#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "supervisor/proc_stat.h"

namespace dlnest {

namespace {

constexpr int kStartTicksField = 22;

/// Reads the next space-separated unsigned field at `*cursor`; false at the end or on junk.
bool next_number(const char** cursor, const char* end, uint64_t* value) {
  const char* p = *cursor;
  while (p < end && *p == ' ') ++p;
  if (p == end || *p < '0' || *p > '9') return false;
  uint64_t v = 0;
  for (; p < end && *p >= '0' && *p <= '9'; ++p) v = v * 10 + static_cast<uint64_t>(*p - '0');
  if (p < end && *p != ' ' && *p != '\n') return false;
  *cursor = p;
  *value = v;
  return true;
}

/// Skips the next space-separated field (which may be negative) at `*cursor`.
bool skip_field(const char** cursor, const char* end) {
  const char* p = *cursor;
  while (p < end && *p == ' ') ++p;
  if (p == end || *p == '\n') return false;
  while (p < end && *p != ' ' && *p != '\n') ++p;
  *cursor = p;
  return true;
}

bool is_number(const char* name) {
  if (*name == '\0') return false;
  for (; *name != '\0'; ++name) {
    if (*name < '0' || *name > '9') return false;
  }
  return true;
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(const std::string& text) {
  const size_t open = text.find(" (");
  const size_t close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  ProcStat stat;
  const char* p = text.data();
  const char* const end = text.data() + text.size();
  uint64_t value = 0;
  if (!next_number(&p, text.data() + open, &value)) return std::nullopt;
  stat.pid = static_cast<int>(value);
  p = text.data() + close + 1;
  if (p + 2 > end || p[0] != ' ') return std::nullopt;
  stat.state = p[1];
  p += 2;
  if (!next_number(&p, end, &value)) return std::nullopt;
  stat.ppid = static_cast<int>(value);
  if (!next_number(&p, end, &value)) return std::nullopt;
  stat.pgrp = static_cast<int>(value);
  if (!next_number(&p, end, &value)) return std::nullopt;
  stat.session = static_cast<int>(value);
  for (int field = 7; field < kStartTicksField; ++field) {
    if (!skip_field(&p, end)) return std::nullopt;
  }
  if (!next_number(&p, end, &stat.start_ticks)) return std::nullopt;
  return stat;
}

std::optional<ProcStat> read_proc_stat(int pid) {
  if (pid <= 0) return std::nullopt;
  // open(2) with O_CLOEXEC: another thread may be starting a task at this very moment.
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buffer[2048];
  ssize_t n;
  do {
    n = ::read(fd, buffer, sizeof buffer);
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  return parse_proc_stat(std::string(buffer, static_cast<size_t>(n)));
}

std::vector<ProcStat> list_processes() {
  std::vector<ProcStat> processes;
  DIR* dir = ::opendir("/proc");  // glibc opens it close-on-exec
  if (dir == nullptr) return processes;
  while (const dirent* entry = ::readdir(dir)) {
    if (!is_number(entry->d_name)) continue;
    auto stat = read_proc_stat(std::atoi(entry->d_name));
    if (stat) processes.push_back(*stat);
  }
  ::closedir(dir);
  return processes;
}

std::vector<ProcStat> list_group(int pgid) {
  std::vector<ProcStat> members;
  if (pgid <= 0) return members;
  for (const ProcStat& stat : list_processes()) {
    if (stat.pgrp == pgid) members.push_back(stat);
  }
  return members;
}

std::vector<ProcStat> list_session(int sid) {
  std::vector<ProcStat> members;
  if (sid <= 0) return members;
  for (const ProcStat& stat : list_processes()) {
    if (stat.session == sid) members.push_back(stat);
  }
  return members;
}

}  // namespace dlnest
