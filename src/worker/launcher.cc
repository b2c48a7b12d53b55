#include "worker/launcher.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "dlnest/save_package.h"

extern char** environ;

namespace dlnest {

namespace {

using Clock = std::chrono::steady_clock;

/// Variable `name` as an integer in [min, max], or `fallback` when unset.
Result<int> env_int(const EnvLookup& env, const char* name, int fallback, int min, int max) {
  const char* text = env(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || *end != '\0' || value < min || value > max) {
    return Status::invalid_argument(std::string(name) + "=" + text + ": expected an integer from " +
                                    std::to_string(min) + " to " + std::to_string(max));
  }
  return static_cast<int>(value);
}

std::string describe(const ChildExit& e) {
  if (e.signal != 0) {
    const char* abbrev = ::sigabbrev_np(e.signal);
    return "killed by " +
           (abbrev ? "SIG" + std::string(abbrev) : "signal " + std::to_string(e.signal));
  }
  return "exit code " + std::to_string(e.code);
}

class PosixRankProcesses final : public RankProcesses {
 public:
  Result<int> start(const std::vector<std::string>& argv,
                    const std::map<std::string, std::string>& env) override {
    // Everything the child uses is built before fork: it makes only async-signal-safe calls.
    std::vector<std::string> entries;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry(*e);
      if (env.count(entry.substr(0, entry.find('='))) == 0) entries.push_back(entry);
    }
    for (const auto& [name, value] : env) entries.push_back(name + "=" + value);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> envp;
    for (const std::string& e : entries) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    int report[2];  // the child writes errno here when exec fails; close-on-exec otherwise
    if (::pipe2(report, O_CLOEXEC) != 0) return errno_status("pipe");
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) return errno_status("fork");
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      sigset_t none;  // the launcher blocks its stop signals; the rank starts with none blocked
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execve(args[0], args.data(), envp.data());
      const int error = errno;
      (void)!::write(report[1], &error, sizeof error);
      ::_exit(127);
    }
    ::close(report[1]);
    int error = 0;
    ssize_t n;
    do {
      n = ::read(report[0], &error, sizeof error);
    } while (n < 0 && errno == EINTR);
    ::close(report[0]);
    if (n == static_cast<ssize_t>(sizeof error)) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      return Status::io_error("cannot start " + argv[0] + ": " + ::strerror(error));
    }
    return static_cast<int>(pid);
  }

  std::optional<ChildExit> wait_any(double timeout_s) override {
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(timeout_s));
    for (;;) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid > 0) {
        ChildExit exit;
        exit.pid = pid;
        if (WIFSIGNALED(status)) {
          exit.signal = WTERMSIG(status);
          exit.code = 128 + exit.signal;
        } else {
          exit.code = WEXITSTATUS(status);
        }
        return exit;
      }
      if (pid < 0 && errno != EINTR) return std::nullopt;  // no child left
      if (Clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  void signal(int pid, int sig) override { ::kill(pid, sig); }

 private:
  static Status errno_status(const char* what) {
    return Status::io_error(std::string("cannot start a rank: ") + what + ": " + ::strerror(errno));
  }
};

/// The last "[dlnest] error:" line of a rank's output file ("" when none can be read).
std::string last_error_line(const std::string& output_file) {
  constexpr std::streamoff kTail = 16 * 1024;
  std::ifstream in(output_file, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  in.seekg(std::max<std::streamoff>(0, size - kTail));
  std::string line;
  std::string last;
  while (std::getline(in, line)) {
    if (line.rfind("[dlnest] error:", 0) == 0) last = line;
  }
  return last;
}

/// Whether a rank failed only because another rank went away: a collective's connection closed
/// or reset by its peer.
bool lost_its_peer(const RankSpec& spec) {
  return !spec.output_file.empty() &&
         last_error_line(spec.output_file).find(" by peer") != std::string::npos;
}

/// The ranks still running, and how the run ends once something went wrong.
class Watch {
 public:
  Watch(RankProcesses& processes, const WatchOptions& options, std::ostream& log)
      : processes_(processes), options_(options), log_(log) {}

  void started(int pid, const RankSpec& spec) { alive_[pid] = &spec; }
  bool done() const { return alive_.empty(); }
  int result() const { return result_; }

  /// Ends every rank still running, with `code` as the run's result.
  void end_all(int code, const std::string& why) {
    if (ending_) return;
    ending_ = true;
    result_ = code;
    log_ << "[dlnest] " << why << (alive_.empty() ? "" : ": ending the other ranks") << std::endl;
    for (const auto& entry : alive_) processes_.signal(entry.first, SIGTERM);
    deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(options_.term_grace_s));
  }

  /// Waits a little for a rank to end and reacts to it.
  void step() {
    double wait = 0.1;
    if (ending_) {
      wait = std::chrono::duration<double>(deadline_ - Clock::now()).count();
      if (wait <= 0 && !killed_) {
        killed_ = true;
        log_ << "[dlnest] ranks still running after " << options_.term_grace_s << " s: killing them"
             << std::endl;
        for (const auto& entry : alive_) processes_.signal(entry.first, SIGKILL);
      }
      wait = std::max(wait, 0.1);
    }
    const std::optional<ChildExit> exit = processes_.wait_any(wait);
    if (exit) {
      ended(*exit);
    } else if (const int sig = options_.stop_signal(); sig != 0 && !ending_ && !stopping_) {
      stop_all(sig);
    }
  }

 private:
  /// Asks every rank to stop; they agree on the step and write the interrupt checkpoint.
  void stop_all(int sig) {
    stopping_ = true;
    const char* abbrev = ::sigabbrev_np(sig);
    log_ << "[dlnest] stopped by SIG" << (abbrev ? abbrev : "?")
         << ": asking the ranks to stop after the same step" << std::endl;
    for (const auto& entry : alive_) processes_.signal(entry.first, kStopRequest);
  }

  void ended(const ChildExit& exit) {
    auto it = alive_.find(exit.pid);
    if (it == alive_.end()) return;
    const RankSpec* spec = it->second;
    alive_.erase(it);
    if (exit.code == 0 || ending_) return;
    if (exit.signal == 0 && exit.code == kInterruptedExitCode) {  // stopped on request
      result_ = kInterruptedExitCode;
      return;
    }
    ChildExit cause = exit;
    if (lost_its_peer(*spec)) find_cause(cause, spec);
    std::string why = "rank " + std::to_string(spec->rank) + " failed (" + describe(cause);
    if (!spec->output_file.empty()) why += "; its output is in " + spec->output_file;
    end_all(cause.code, why + ")");
  }

  /// Waits up to peer_settle_s for a rank that failed for a reason of its own, and makes it
  /// the one reported (`exit` and `spec`); keeps the first one when none comes.
  void find_cause(ChildExit& exit, const RankSpec*& spec) {
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(options_.peer_settle_s));
    while (!alive_.empty()) {
      const double left = std::chrono::duration<double>(deadline - Clock::now()).count();
      if (left <= 0) return;
      const std::optional<ChildExit> next = processes_.wait_any(left);
      if (!next) continue;
      auto it = alive_.find(next->pid);
      if (it == alive_.end()) continue;
      const RankSpec* other = it->second;
      alive_.erase(it);
      if (next->code != 0 && !lost_its_peer(*other)) {
        exit = *next;
        spec = other;
        return;
      }
    }
  }

  RankProcesses& processes_;
  const WatchOptions& options_;
  std::ostream& log_;
  std::map<int, const RankSpec*> alive_;  // by pid
  int result_ = 0;
  bool ending_ = false;
  bool stopping_ = false;
  bool killed_ = false;
  Clock::time_point deadline_;
};

}  // namespace

std::unique_ptr<RankProcesses> make_posix_rank_processes() {
  return std::make_unique<PosixRankProcesses>();
}

Result<NodeLayout> node_layout_from_env(const EnvLookup& env, int nproc, int default_nproc) {
  NodeLayout layout;
  DLNEST_ASSIGN_OR_RETURN(layout.nnodes, env_int(env, "NNODES", 1, 1, 1 << 16));
  DLNEST_ASSIGN_OR_RETURN(layout.node_rank, env_int(env, "NODE_RANK", 0, 0, layout.nnodes - 1));
  layout.nproc_per_node = nproc;
  if (nproc <= 0) {
    DLNEST_ASSIGN_OR_RETURN(layout.nproc_per_node,
                            env_int(env, "NPROC_PER_NODE", default_nproc, 1, 1 << 16));
  }
  DLNEST_ASSIGN_OR_RETURN(layout.master_port, env_int(env, "MASTER_PORT", 0, 1, 65535));
  const char* addr = env("MASTER_ADDR");
  if (addr != nullptr && *addr != '\0') layout.master_addr = addr;
  if (layout.nnodes > 1 && (addr == nullptr || *addr == '\0' || layout.master_port == 0)) {
    return Status::invalid_argument("NNODES=" + std::to_string(layout.nnodes) +
                                    ": a run over several nodes needs MASTER_ADDR and "
                                    "MASTER_PORT (rank 0's node and a free port on it)");
  }
  return layout;
}

WorkerInvocation rank_invocation(const WorkerInvocation& launcher, const NodeLayout& layout,
                                 int local) {
  WorkerInvocation w = launcher;
  w.ddp = false;
  w.nproc = 0;
  w.exit_file.clear();
  w.foreground = local == 0;
  if (!launcher.gpus.empty()) {
    w.gpus = {launcher.gpus.at(static_cast<size_t>(local))};
  } else if (launcher.gpu_from_local_rank) {
    w.gpu_from_local_rank = false;
    w.gpus = {local};
  }
  w.rank = layout.global_rank(local);
  w.world_size = layout.world_size();
  w.master_addr = layout.master_addr;
  w.master_port = layout.master_port;
  return w;
}

std::vector<RankSpec> node_rank_specs(const WorkerInvocation& launcher, const NodeLayout& layout,
                                      const std::string& worker_path) {
  std::vector<RankSpec> ranks;
  for (int local = 0; local < layout.nproc_per_node; ++local) {
    const WorkerInvocation w = rank_invocation(launcher, layout, local);
    RankSpec spec;
    spec.rank = w.rank;
    spec.output_file = SavePackage::output_file_for_rank(w.rank);
    spec.argv = w.to_argv(worker_path);
    spec.env = {{"RANK", std::to_string(w.rank)},
                {"LOCAL_RANK", std::to_string(local)},
                {"WORLD_SIZE", std::to_string(w.world_size)},
                {"LOCAL_WORLD_SIZE", std::to_string(layout.nproc_per_node)},
                {"MASTER_ADDR", w.master_addr},
                {"MASTER_PORT", std::to_string(w.master_port)}};
    ranks.push_back(std::move(spec));
  }
  return ranks;
}

int run_ranks(RankProcesses& processes, const std::vector<RankSpec>& ranks,
              const WatchOptions& options, std::ostream& log) {
  Watch watch(processes, options, log);
  for (const RankSpec& spec : ranks) {
    Result<int> pid = processes.start(spec.argv, spec.env);
    if (!pid.is_ok()) {
      log << "[dlnest] error: rank " << spec.rank << ": " << pid.status().message() << std::endl;
      watch.end_all(1, "rank " + std::to_string(spec.rank) + " did not start");
      break;
    }
    watch.started(*pid, spec);
  }
  while (!watch.done()) watch.step();
  return watch.result();
}

Result<int> free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::io_error(std::string("socket: ") + ::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  const int error = errno;
  ::close(fd);
  if (port < 0)
    return Status::io_error(std::string("cannot find a free port: ") + ::strerror(error));
  return port;
}

}  // namespace dlnest
