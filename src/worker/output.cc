#include "worker/output.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "env/regular_file.h"

namespace dlnest {

namespace {

constexpr const char* kClearLine = "\r\033[K";

void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    size -= static_cast<size_t>(n);
  }
}

Status errno_status(const std::string& what) {
  return Status::io_error(what + ": " + std::strerror(errno));
}

}  // namespace

WorkerOutput::WorkerOutput(int file_fd, int terminal_fd, int pipe_fd)
    : file_fd_(file_fd), terminal_fd_(terminal_fd), pipe_fd_(pipe_fd) {
  tty_ = terminal_fd_ >= 0 && ::isatty(terminal_fd_);
  if (pipe_fd_ >= 0) pump_ = std::thread([this] { pump(); });
}

Result<std::unique_ptr<WorkerOutput>> WorkerOutput::redirect(const std::string& file, bool echo) {
  // A package's output file must be a regular file: a FIFO would block the worker, and a link
  // would make it append to whatever file the link names.
  Result<UniqueFd> opened = open_regular_file(file, O_WRONLY | O_CREAT | O_APPEND);
  if (!opened.is_ok()) return opened.status().with_context("cannot open the output file");
  const int file_fd = opened->release();
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  int terminal_fd = -1;
  int read_fd = -1;
  int target = file_fd;
  if (echo) {
    int fds[2];
    terminal_fd = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    if (terminal_fd < 0 || ::pipe2(fds, O_CLOEXEC) != 0) return errno_status("cannot tee output");
    read_fd = fds[0];
    target = fds[1];
  }
  if (::dup2(target, STDOUT_FILENO) < 0 || ::dup2(target, STDERR_FILENO) < 0) {
    return errno_status("cannot redirect output to " + file);
  }
  if (target != file_fd) ::close(target);
  return std::unique_ptr<WorkerOutput>(new WorkerOutput(file_fd, terminal_fd, read_fd));
}

WorkerOutput::~WorkerOutput() {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  if (pump_.joinable()) {
    // Closing our ends of the pipe lets the pump see end-of-file once it has copied everything.
    const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    ::dup2(null_fd, STDOUT_FILENO);
    ::dup2(null_fd, STDERR_FILENO);
    ::close(null_fd);
    pump_.join();
    ::close(pipe_fd_);
  }
  clear_progress();
  if (terminal_fd_ >= 0) ::close(terminal_fd_);
  ::close(file_fd_);
}

void WorkerOutput::pump() {
  char buf[1 << 14];
  for (;;) {
    const ssize_t n = ::read(pipe_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    write_all(file_fd_, buf, static_cast<size_t>(n));
    std::lock_guard<std::mutex> lock(mu_);
    write_terminal(buf, static_cast<size_t>(n));
  }
}

void WorkerOutput::write_terminal(const char* data, size_t size) {
  if (progress_shown_) {
    write_all(terminal_fd_, kClearLine, std::strlen(kClearLine));
    progress_shown_ = false;
  }
  write_all(terminal_fd_, data, size);
}

void WorkerOutput::show_progress(const std::string& line) {
  if (!tty_) return;
  std::lock_guard<std::mutex> lock(mu_);
  const std::string text = kClearLine + line;
  write_all(terminal_fd_, text.data(), text.size());
  progress_shown_ = true;
}

void WorkerOutput::clear_progress() {
  if (!tty_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (!progress_shown_) return;
  write_all(terminal_fd_, kClearLine, std::strlen(kClearLine));
  progress_shown_ = false;
}

}  // namespace dlnest
