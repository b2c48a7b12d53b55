// What the supervisor reads about processes from /proc: session, process group, parent, state
// and start time. Linux only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dlnest {

/// The fields of /proc/<pid>/stat the supervisor uses.
struct ProcStat {
  int pid = 0;
  char state = '?';          ///< field 3: R, S, D, Z (zombie), X (dead), ...
  int ppid = 0;              ///< field 4
  int pgrp = 0;              ///< field 5
  int session = 0;           ///< field 6: the session id
  uint64_t start_ticks = 0;  ///< field 22: clock ticks since boot

  /// Whether the process has exited and only waits to be reaped.
  bool is_zombie() const { return state == 'Z' || state == 'X'; }
};

/// Parses the text of a /proc/<pid>/stat file ("pid (comm) state ppid pgrp session ..."); comm may
/// hold spaces and parentheses, so fields after it are counted from the last ')'. nullopt when the
/// text is malformed.
std::optional<ProcStat> parse_proc_stat(const std::string& text);

/// /proc/<pid>/stat of `pid`, zombies included; nullopt when there is no such process.
std::optional<ProcStat> read_proc_stat(int pid);

/// Every process in /proc, zombies included (a snapshot: processes come and go while it is read).
std::vector<ProcStat> list_processes();

/// Every process whose process group is `pgid`, zombies included.
std::vector<ProcStat> list_group(int pgid);

/// Every process whose session is `sid`, zombies included.
std::vector<ProcStat> list_session(int sid);

}  // namespace dlnest
