#include "analyzer/command_channel.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "env/unique_fd.h"

namespace dlnest {
namespace {

constexpr size_t kMaxCommand = 4096;
/// A spool larger than this is not read (a runaway sender); its commands are dropped.
constexpr off_t kMaxSpool = 1 << 20;

bool plain_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

std::string without_cpp(const std::string& name) {
  const bool cpp = name.size() > 4 && name.compare(name.size() - 4, 4, ".cpp") == 0;
  return cpp ? name.substr(0, name.size() - 4) : name;
}

Result<sockaddr_un> socket_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return Status::invalid_argument("socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

/// Reads one line (without the newline) from `fd`, waiting at most `timeout_ms` per read
/// (-1: forever).
Result<std::string> read_line(int fd, int timeout_ms) {
  std::string line;
  char c;
  while (line.size() < kMaxCommand) {
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return Status::io_error("no answer within " + std::to_string(timeout_ms) + " ms");
    const ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (c == '\n') return line;
    line += c;
  }
  if (line.empty()) return Status::io_error("connection closed without an answer");
  return line;
}

bool write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

/// Opens `spool` (created when `create`) and takes its lock.
Result<UniqueFd> open_locked(const std::string& spool, bool create) {
  UniqueFd fd(
      ::open(spool.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), 0600));
  if (!fd.valid()) {
    if (errno == ENOENT && !create) return UniqueFd();
    return Status::io_error("cannot open " + spool + ": " + std::strerror(errno));
  }
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR)
      return Status::io_error("cannot lock " + spool + ": " + std::strerror(errno));
  }
  return fd;
}

Status spool_command(const std::string& socket_path, const std::string& command) {
  DLNEST_RETURN_IF_ERROR(check_script_name(command, "the analyzer's scripts folder"));
  const std::string spool = command_spool_path(socket_path);
  DLNEST_ASSIGN_OR_RETURN(UniqueFd fd, open_locked(spool, /*create=*/true));
  const std::string line = command + "\n";
  if (::lseek(fd.get(), 0, SEEK_END) < 0 ||
      ::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return Status::io_error("cannot write " + spool + ": " + std::strerror(errno));
  }
  return Status::ok();
}

}  // namespace

std::string command_spool_path(const std::string& socket_path) {
  return socket_path + ".queue";
}

Result<std::vector<std::string>> take_spooled_commands(const std::string& spool) {
  std::vector<std::string> commands;
  DLNEST_ASSIGN_OR_RETURN(UniqueFd fd, open_locked(spool, /*create=*/false));
  if (!fd.valid()) return commands;
  const off_t size = ::lseek(fd.get(), 0, SEEK_END);
  std::string text(static_cast<size_t>(std::clamp<off_t>(size, 0, kMaxSpool)), '\0');
  const ssize_t n = ::pread(fd.get(), text.data(), text.size(), 0);
  if (::ftruncate(fd.get(), 0) != 0 || n < 0) {
    return Status::io_error("cannot read " + spool + ": " + std::strerror(errno));
  }
  text.resize(static_cast<size_t>(n));
  for (size_t begin = 0, end; begin < text.size(); begin = end + 1) {
    end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    if (end > begin) commands.push_back(text.substr(begin, end - begin));
  }
  return commands;
}

Status check_script_name(const std::string& name, const std::string& scripts_dir) {
  const std::string base = without_cpp(name);
  bool plain =
      !base.empty() && base.size() <= 200 && base[0] != '.' && base.find("..") == std::string::npos;
  for (char c : base) plain = plain && plain_name_char(c);
  if (plain) return Status::ok();
  return Status::invalid_argument("script name \"" + name + "\" is not a plain file name in " +
                                  scripts_dir);
}

std::string script_file_name(const std::string& name) {
  return without_cpp(name) + ".cpp";
}

std::string script_end_line(const std::string& name, bool ok) {
  return std::string(kAnalyzerPrefix) + script_file_name(name) + (ok ? " finished" : " failed");
}

Status send_analyzer_command(const std::string& socket_path, const std::string& command,
                             int timeout_ms) {
  if (command.find('\n') != std::string::npos || command.size() > kMaxCommand) {
    return Status::invalid_argument("command must be one line of at most 4096 bytes");
  }
  DLNEST_ASSIGN_OR_RETURN(sockaddr_un addr, socket_address(socket_path));
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::io_error(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == ENOENT || err == ECONNREFUSED) return spool_command(socket_path, command);
    return Status::failed_precondition("cannot reach the analyzer (" +
                                       std::string(std::strerror(err)) + ")");
  }
  Status s =
      write_all(fd, command + "\n") ? Status::ok() : Status::io_error("cannot send the command");
  Result<std::string> answer = s.is_ok() ? read_line(fd, timeout_ms) : Result<std::string>(s);
  ::close(fd);
  if (!answer.is_ok()) return answer.status().with_context("analyzer");
  if (*answer == "ok") return Status::ok();
  if (answer->rfind("error: ", 0) == 0) return Status::invalid_argument(answer->substr(7));
  return Status::io_error("unexpected answer from the analyzer: " + *answer);
}

Result<CommandListener> CommandListener::listen(const std::string& socket_path) {
  DLNEST_ASSIGN_OR_RETURN(sockaddr_un addr, socket_address(socket_path));
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::io_error(std::string("socket: ") + std::strerror(errno));
  ::unlink(socket_path.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 8) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::io_error("cannot listen on " + socket_path + ": " + std::strerror(err));
  }
  return CommandListener(fd, socket_path);
}

CommandListener::CommandListener(CommandListener&& other) noexcept
    : fd_(other.fd_), client_(other.client_), path_(std::move(other.path_)) {
  other.fd_ = -1;
  other.client_ = -1;
}

CommandListener::~CommandListener() {
  if (client_ >= 0) ::close(client_);
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
}

Result<std::optional<std::string>> CommandListener::next(int timeout_ms) {
  for (;;) {
    if (client_ >= 0) ::close(client_);
    client_ = -1;
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, timeout_ms);
    if (ready < 0 && errno != EINTR) {
      return Status::io_error(std::string("poll: ") + std::strerror(errno));
    }
    if (ready == 0) return std::optional<std::string>();
    if (ready < 0) continue;
    client_ = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client_ < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return Status::io_error(std::string("accept: ") + std::strerror(errno));
    }
    Result<std::string> line = read_line(client_, 5000);
    if (line.is_ok()) return std::optional<std::string>(std::move(line).value());
  }
}

void CommandListener::reply(const Status& status) {
  if (client_ < 0) return;
  write_all(client_, status.is_ok() ? "ok\n" : "error: " + status.message() + "\n");
  ::close(client_);
  client_ = -1;
}

}  // namespace dlnest
