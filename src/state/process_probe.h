// Telling a task's process from a stranger that reuses its pid, for adopting running tasks after
// a server restart.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace dlnest {

/// The start time (clock ticks since boot, field 22) in the text of a /proc/<pid>/stat file, or
/// nullopt when the text is malformed or the process is a zombie (state Z or X: it has exited).
std::optional<uint64_t> parse_proc_stat_start_ticks(const std::string& stat);

/// The start time of the live process `pid`, read from /proc/<pid>/stat; nullopt when there is no
/// such process or it has exited.
std::optional<uint64_t> process_start_ticks(int pid);

}  // namespace dlnest
