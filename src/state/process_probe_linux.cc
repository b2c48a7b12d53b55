#include <fcntl.h>
#include <unistd.h>

#include <sstream>

#include "state/process_probe.h"

namespace dlnest {

std::optional<uint64_t> parse_proc_stat_start_ticks(const std::string& stat) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted
  // from the last ')'. The state is field 3; the start time is field 22.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 1));
  std::string state;
  if (!(fields >> state) || state == "Z" || state == "X") return std::nullopt;
  std::string field;
  for (int index = 4; index < 22; ++index) {
    if (!(fields >> field)) return std::nullopt;
  }
  uint64_t start_ticks = 0;
  if (!(fields >> start_ticks)) return std::nullopt;
  return start_ticks;
}

std::optional<uint64_t> process_start_ticks(int pid) {
  if (pid <= 0) return std::nullopt;
  // open(2) rather than a stream, so that the descriptor is close-on-exec even for the moment
  // it is open while another thread may fork a task.
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buffer[4096];
  const ssize_t n = ::read(fd, buffer, sizeof(buffer) - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  return parse_proc_stat_start_ticks(std::string(buffer, static_cast<size_t>(n)));
}

}  // namespace dlnest
