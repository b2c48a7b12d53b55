#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "supervisor/spawn.h"

extern char** environ;

namespace dlnest {

namespace {

/// What a child that could not exec writes to its parent through the report pipe.
struct ChildFailure {
  int stage;  ///< kStageChdir or kStageExec
  int error;  ///< errno
};
constexpr int kStageChdir = 1;
constexpr int kStageExec = 2;

/// A descriptor closed when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

/// Everything the child uses, prepared before fork: between fork and exec the child of a
/// multi-threaded process may not allocate or take locks.
struct ChildPlan {
  std::vector<std::string> env;
  std::vector<char*> argv;
  std::vector<char*> envp;
  const char* program = nullptr;
  const char* cwd = nullptr;  ///< null: stay in the current folder
  int stdin_fd = -1;
  int output_fd = -1;
  int report_fd = -1;
  int fd_limit = 0;
};

/// The server's environment with `extra` added or replacing entries of the same name.
std::vector<std::string> merged_environment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (extra.count(std::string(text.substr(0, text.find('=')))) == 0) env.emplace_back(text);
  }
  for (const auto& [name, value] : extra) env.push_back(name + "=" + value);
  return env;
}

/// Moves a close-on-exec descriptor above 2, so that the child's dup2 onto 0-2 cannot clobber
/// it (the server may run with 0-2 closed). Returns -1 on failure, with errno set.
int above_stdio(int fd) {
  if (fd < 0 || fd > STDERR_FILENO) return fd;
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return moved;
}

int open_above_stdio(const std::string& path, int flags) {
  return above_stdio(::open(path.c_str(), flags | O_CLOEXEC, 0644));
}

[[noreturn]] void report_and_exit(int report_fd, int stage) {
  const ChildFailure failure{stage, errno};
  const ssize_t written = ::write(report_fd, &failure, sizeof failure);
  (void)written;  // nothing more a failing child can do
  ::_exit(127);
}

/// Closes every descriptor above 2 except `keep`; close_range(2) where the kernel has it.
void close_descriptors(int keep, int fd_limit) {
#ifdef SYS_close_range
  const bool low_ok = keep == 3 || ::syscall(SYS_close_range, 3u, keep - 1u, 0u) == 0;
  if (low_ok && ::syscall(SYS_close_range, keep + 1u, ~0u, 0u) == 0) return;
#endif
  for (int fd = STDERR_FILENO + 1; fd < fd_limit; ++fd) {
    if (fd != keep) ::close(fd);
  }
}

/// The child between fork and exec: async-signal-safe calls only.
[[noreturn]] void run_child(const ChildPlan& plan) {
  ::setpgid(0, 0);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &default_action, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::dup2(plan.stdin_fd, STDIN_FILENO);
  ::dup2(plan.output_fd, STDOUT_FILENO);
  ::dup2(plan.output_fd, STDERR_FILENO);
  if (plan.cwd != nullptr && ::chdir(plan.cwd) != 0) report_and_exit(plan.report_fd, kStageChdir);
  close_descriptors(plan.report_fd, plan.fd_limit);
  ::execve(plan.program, plan.argv.data(), plan.envp.data());
  report_and_exit(plan.report_fd, kStageExec);
}

Status start_error(const std::string& program, const std::string& what, int error) {
  const std::string message = "cannot start " + program + ": " + what + std::strerror(error);
  if (error == ENOENT || error == ENOTDIR) return Status::not_found(message);
  return Status::io_error(message);
}

/// Reads the child's failure report; nullopt when the pipe closed empty (exec succeeded).
std::optional<ChildFailure> read_failure(int report_fd) {
  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(report_fd, &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof failure)) return std::nullopt;
  return failure;
}

}  // namespace

int open_pidfd(int pid) {
#ifdef SYS_pidfd_open
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);  // pidfds are always close-on-exec
  return fd < 0 ? -1 : static_cast<int>(fd);
#else
  (void)pid;
  return -1;
#endif
}

Result<StartedProcess> start_process(const SpawnSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return Status::invalid_argument("cannot start a task: no program given");
  }
  const std::string& program = spec.argv[0];
  Fd stdin_fd(open_above_stdio("/dev/null", O_RDONLY));
  if (stdin_fd.get() < 0) return start_error(program, "/dev/null: ", errno);
  const std::string output = spec.output_path.empty() ? "/dev/null" : spec.output_path;
  Fd output_fd(open_above_stdio(output, O_WRONLY | O_APPEND | O_CREAT));
  if (output_fd.get() < 0)
    return start_error(program, "cannot open output file " + output + ": ", errno);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return start_error(program, "pipe: ", errno);
  Fd report_read(above_stdio(pipe_fds[0]));
  Fd report_write(above_stdio(pipe_fds[1]));
  if (report_read.get() < 0 || report_write.get() < 0) return start_error(program, "pipe: ", errno);

  ChildPlan plan;
  plan.env = merged_environment(spec.env);
  for (const std::string& arg : spec.argv) plan.argv.push_back(const_cast<char*>(arg.c_str()));
  plan.argv.push_back(nullptr);
  for (std::string& entry : plan.env) plan.envp.push_back(entry.data());
  plan.envp.push_back(nullptr);
  plan.program = program.c_str();
  plan.cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  plan.stdin_fd = stdin_fd.get();
  plan.output_fd = output_fd.get();
  plan.report_fd = report_write.get();
  const long open_max = ::sysconf(_SC_OPEN_MAX);
  plan.fd_limit = open_max > 0 ? static_cast<int>(open_max) : 1024;

  const pid_t pid = ::fork();
  if (pid == 0) run_child(plan);
  if (pid < 0) return start_error(program, "fork: ", errno);
  ::setpgid(pid, pid);  // also here, so that the group exists whichever runs first
  report_write.reset();
  const std::optional<ChildFailure> failure = read_failure(report_read.get());
  if (failure) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    const std::string what =
        failure->stage == kStageChdir ? "cannot enter folder " + spec.cwd + ": " : "";
    return start_error(program, what, failure->error);
  }
  return StartedProcess{pid, open_pidfd(pid)};
}

}  // namespace dlnest
