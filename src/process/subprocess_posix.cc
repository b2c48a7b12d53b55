#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "process/subprocess.h"

extern char** environ;

namespace dlnest {

namespace {

/// Spawns `argv` with stdout/stderr on `out_fd`; returns the pid or an error.
Result<pid_t> spawn(const std::vector<std::string>& argv, const std::string& cwd, int out_fd,
                    ProcessGroup group) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDERR_FILENO);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  if (group == ProcessGroup::kNew) {
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Status::not_found("cannot run " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

}  // namespace

Result<ProcessResult> run_process(const std::vector<std::string>& argv, const std::string& cwd,
                                  const std::function<void(std::string_view)>& on_output,
                                  ProcessGroup group) {
  if (argv.empty()) return Status::invalid_argument("run_process: empty command");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return Status::io_error(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  auto pid = spawn(argv, cwd, fds[1], group);
  ::close(fds[1]);
  if (!pid.is_ok()) {
    ::close(fds[0]);
    return pid.status();
  }
  ProcessResult result;
  char buf[1 << 14];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(buf, static_cast<size_t>(n));
    if (on_output) on_output(std::string_view(buf, static_cast<size_t>(n)));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace dlnest
