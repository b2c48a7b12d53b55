#include "analyzer/command_channel.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dlnest {
namespace {

constexpr size_t kMaxCommand = 4096;

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

}  // namespace

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
    return Status::failed_precondition("the analyzer is not ready to take commands (" +
                                       std::string(std::strerror(err)) + ")");
  }
  Status s = write_all(fd, command + "\n") ? Status::ok()
                                           : Status::io_error("cannot send the command");
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

Result<std::string> CommandListener::next() {
  for (;;) {
    if (client_ >= 0) ::close(client_);
    client_ = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client_ < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return Status::io_error(std::string("accept: ") + std::strerror(errno));
    }
    Result<std::string> line = read_line(client_, 5000);
    if (line.is_ok()) return line;
  }
}

void CommandListener::reply(const Status& status) {
  if (client_ < 0) return;
  write_all(client_, status.is_ok() ? "ok\n" : "error: " + status.message() + "\n");
  ::close(client_);
  client_ = -1;
}

}  // namespace dlnest
