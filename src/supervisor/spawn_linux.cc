#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "env/regular_file.h"
#include "supervisor/spawn.h"

extern char** environ;

namespace dlnest {

namespace {

/// What the child writes to its parent through the report pipe: once when it waits at its gate,
/// and once more when it could not run the program.
struct ChildReport {
  int stage;  ///< kStageHeld, kStageChdir or kStageExec
  int error;  ///< errno; 0 for kStageHeld
};
constexpr int kStageHeld = 0;
constexpr int kStageChdir = 1;
constexpr int kStageExec = 2;

/// Everything the child uses, prepared before fork: between fork and exec the child of a
/// multi-threaded process may not allocate or take locks.
struct ChildPlan {
  std::vector<std::string> env;
  std::vector<char*> argv;
  std::vector<char*> envp;
  const char* program = nullptr;
  const char* cwd = nullptr;        ///< null: stay in the current folder
  const char* exit_file = nullptr;  ///< null: none
  std::string never_started_text;   ///< kExitNeverStarted as decimal text, for the exit file
  int stdin_fd = -1;
  int output_fd = -1;
  int gate_fd = -1;
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

void write_report(int report_fd, int stage, int error) {
  const ChildReport report{stage, error};
  const ssize_t written = ::write(report_fd, &report, sizeof report);
  (void)written;  // nothing more a child can do
}

[[noreturn]] void report_and_exit(int report_fd, int stage) {
  write_report(report_fd, stage, errno);
  ::_exit(127);
}

/// Closes every descriptor in [low, high]; close_range(2) where the kernel has it.
void close_between(unsigned low, unsigned high, int fd_limit) {
  if (low > high) return;
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, low, high, 0u) == 0) return;
#endif
  const unsigned limit = std::min(high, static_cast<unsigned>(fd_limit - 1));
  for (unsigned fd = low; fd <= limit; ++fd) ::close(static_cast<int>(fd));
}

/// Closes every descriptor above 2 except `keep_a` and `keep_b` (both above 2).
void close_descriptors(int keep_a, int keep_b, int fd_limit) {
  const unsigned low = static_cast<unsigned>(std::min(keep_a, keep_b));
  const unsigned high = static_cast<unsigned>(std::max(keep_a, keep_b));
  close_between(STDERR_FILENO + 1, low - 1, fd_limit);
  close_between(low + 1, high - 1, fd_limit);
  close_between(high + 1, ~0u, fd_limit);
}

/// Waits for the go byte: true; false when the gate closed without one.
bool wait_at_gate(int gate_fd) {
  char go = 0;
  ssize_t n;
  do {
    n = ::read(gate_fd, &go, 1);
  } while (n < 0 && errno == EINTR);
  return n == 1;
}

/// The gate closed unopened: leave the exit code where an adopting server looks, and go.
[[noreturn]] void exit_never_started(const ChildPlan& plan) {
  if (plan.exit_file != nullptr) {
    const int flags = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
    const int fd = ::open(plan.exit_file, flags, 0644);
    if (fd >= 0) {
      const ssize_t written =
          ::write(fd, plan.never_started_text.data(), plan.never_started_text.size());
      (void)written;  // the exit status says the same to a parent that is still there
      ::close(fd);
    }
  }
  ::_exit(kExitNeverStarted);
}

/// The child between fork and exec: async-signal-safe calls only.
[[noreturn]] void run_child(const ChildPlan& plan) {
  ::setsid();  // cannot fail: a new child leads no process group yet
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &default_action, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::dup2(plan.stdin_fd, STDIN_FILENO);
  ::dup2(plan.output_fd, STDOUT_FILENO);
  ::dup2(plan.output_fd, STDERR_FILENO);
  // Also closes the server's end of this gate (and of any other child's), so that the gate
  // reads end of file once the server's copy is gone.
  close_descriptors(plan.gate_fd, plan.report_fd, plan.fd_limit);
  write_report(plan.report_fd, kStageHeld, 0);
  if (!wait_at_gate(plan.gate_fd)) exit_never_started(plan);
  ::close(plan.gate_fd);
  if (plan.cwd != nullptr && ::chdir(plan.cwd) != 0) report_and_exit(plan.report_fd, kStageChdir);
  ::execve(plan.program, plan.argv.data(), plan.envp.data());
  report_and_exit(plan.report_fd, kStageExec);
}

Status start_error(const std::string& program, const std::string& what, int error) {
  const std::string message = "cannot start " + program + ": " + what + std::strerror(error);
  if (error == ENOENT || error == ENOTDIR) return Status::not_found(message);
  return Status::io_error(message);
}

/// The next report of the child; nullopt when the pipe reached its end instead.
std::optional<ChildReport> read_report(int report_fd) {
  ChildReport report{};
  ssize_t n;
  do {
    n = ::read(report_fd, &report, sizeof report);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof report)) return std::nullopt;
  return report;
}

/// The task's output file, above stdio; /dev/null when the spec names none.
Result<UniqueFd> open_output(const SpawnSpec& spec) {
  const std::string& program = spec.argv[0];
  if (spec.output_path.empty()) {
    UniqueFd fd(above_stdio(::open("/dev/null", O_WRONLY | O_CLOEXEC)));
    if (!fd.valid()) return start_error(program, "/dev/null: ", errno);
    return fd;
  }
  Result<UniqueFd> fd = open_regular_file(spec.output_path, O_WRONLY | O_APPEND | O_CREAT);
  if (!fd.is_ok()) {
    const Status& status = fd.status();
    const std::string message = "cannot start " + program + ": output file " + status.message();
    return status.code() == Status::Code::kFailedPrecondition ? Status::failed_precondition(message)
                                                              : Status::io_error(message);
  }
  UniqueFd moved(above_stdio(fd->release()));
  if (!moved.valid()) return start_error(program, "output file " + spec.output_path + ": ", errno);
  return moved;
}

/// The descriptors the child inherits, all above stdio and close-on-exec; the parent keeps
/// `gate` and `report`.
struct ChildFds {
  UniqueFd stdin_fd, output, gate, child_gate, report, child_report;
};

Result<ChildFds> open_child_fds(const SpawnSpec& spec) {
  const std::string& program = spec.argv[0];
  ChildFds fds;
  fds.stdin_fd.reset(above_stdio(::open("/dev/null", O_RDONLY | O_CLOEXEC)));
  if (!fds.stdin_fd.valid()) return start_error(program, "/dev/null: ", errno);
  DLNEST_ASSIGN_OR_RETURN(fds.output, open_output(spec));
  // A socket rather than a pipe: writing the go byte to a child that died must not raise SIGPIPE.
  int gate[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, gate) != 0) {
    return start_error(program, "socketpair: ", errno);
  }
  fds.gate.reset(above_stdio(gate[0]));
  fds.child_gate.reset(above_stdio(gate[1]));
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return start_error(program, "pipe: ", errno);
  fds.report.reset(above_stdio(report[0]));
  fds.child_report.reset(above_stdio(report[1]));
  if (!fds.gate.valid() || !fds.child_gate.valid() || !fds.report.valid() ||
      !fds.child_report.valid()) {
    return start_error(program, "pipe: ", errno);
  }
  return fds;
}

ChildPlan make_plan(const SpawnSpec& spec, const ChildFds& fds) {
  ChildPlan plan;
  plan.env = merged_environment(spec.env);
  for (const std::string& arg : spec.argv) plan.argv.push_back(const_cast<char*>(arg.c_str()));
  plan.argv.push_back(nullptr);
  for (std::string& entry : plan.env) plan.envp.push_back(entry.data());
  plan.envp.push_back(nullptr);
  plan.program = spec.argv[0].c_str();
  plan.cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  plan.exit_file = spec.exit_file.empty() ? nullptr : spec.exit_file.c_str();
  plan.never_started_text = std::to_string(kExitNeverStarted) + "\n";
  plan.stdin_fd = fds.stdin_fd.get();
  plan.output_fd = fds.output.get();
  plan.gate_fd = fds.child_gate.get();
  plan.report_fd = fds.child_report.get();
  const long open_max = ::sysconf(_SC_OPEN_MAX);
  plan.fd_limit = open_max > 0 ? static_cast<int>(open_max) : 1024;
  return plan;
}

void reap(int pid) {
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
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

Result<HeldProcess> spawn_held(const SpawnSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return Status::invalid_argument("cannot start a task: no program given");
  }
  DLNEST_ASSIGN_OR_RETURN(ChildFds fds, open_child_fds(spec));
  const ChildPlan plan = make_plan(spec, fds);
  const pid_t pid = ::fork();
  if (pid == 0) run_child(plan);
  if (pid < 0) return start_error(spec.argv[0], "fork: ", errno);
  fds.child_gate.reset();
  fds.child_report.reset();
  HeldProcess held;
  held.pid = pid;
  held.pidfd.reset(open_pidfd(pid));
  held.gate = std::move(fds.gate);
  held.report = std::move(fds.report);
  held.program = spec.argv[0];
  held.cwd = spec.cwd;
  const std::optional<ChildReport> report = read_report(held.report.get());
  if (!report || report->stage != kStageHeld) {
    held.gate.reset();
    reap(pid);
    return Status::io_error("cannot start " + held.program + ": the process ended before its gate");
  }
  return held;
}

Status release_held(HeldProcess* process) {
  const char go = 'g';
  ssize_t sent;
  do {
    sent = ::send(process->gate.get(), &go, 1, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  const int send_error = sent == 1 ? 0 : errno;
  process->gate.reset();
  const std::optional<ChildReport> failure = read_report(process->report.get());
  process->report.reset();
  if (failure) {
    const std::string what =
        failure->stage == kStageChdir ? "cannot enter folder " + process->cwd + ": " : "";
    return start_error(process->program, what, failure->error);
  }
  if (send_error != 0) return start_error(process->program, "it ended at its gate: ", send_error);
  return Status::ok();
}

}  // namespace dlnest
