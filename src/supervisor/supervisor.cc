#include "supervisor/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "supervisor/proc_stat.h"
#include "supervisor/spawn.h"

namespace dlnest {

namespace {

using Clock = std::chrono::steady_clock;

// How often a watcher looks again when nothing woke it. Own children: a pidfd wakes the watcher
// when the leader exits; the timeout only reaps orphans reparented here meanwhile.
constexpr int kOwnPollMs = 500;
constexpr int kAdoptedPollMs = 150;
constexpr int kNoPidfdPollMs = 100;
// While the rest of a group dies after SIGKILL.
constexpr auto kClearPoll = std::chrono::milliseconds(10);

// Steps of the termination ladder: the last signal terminate() sent.
constexpr int kLadderNone = 0;
constexpr int kLadderSigint = 1;
constexpr int kLadderSigterm = 2;
constexpr int kLadderSigkill = 3;

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

std::string format_seconds(double s) {
  std::ostringstream out;
  out << s;
  return out.str();
}

/// Reaps every exited child of this process in group `pgid` without blocking, keeping the
/// leader's wait status. Returns whether children of this process remain in the group.
bool reap_group(int pgid, std::optional<int>* leader_status) {
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-pgid, &status, WNOHANG);
    if (pid > 0) {
      if (pid == pgid) *leader_status = status;
      continue;
    }
    if (pid == 0) return true;
    if (errno != EINTR) return false;  // ECHILD: no child of ours is in the group
  }
}

/// Whether something of group `pgid` still lives, or is a zombie this process must reap.
/// Zombies of other parents are theirs to reap and hold nothing.
bool group_lingers(int pgid) {
  const int self = ::getpid();
  for (const ProcStat& member : list_group(pgid)) {
    if (!member.is_zombie() || member.ppid == self) return true;
  }
  return false;
}

/// The exit code an adopted task wrote to `path`; nullopt when missing or not a number.
std::optional<int> read_exit_file(const std::string& path) {
  if (path.empty()) return std::nullopt;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buffer[32];
  const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  buffer[n] = '\0';
  char* end = nullptr;
  errno = 0;
  const long code = std::strtol(buffer, &end, 10);
  while (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t') ++end;
  if (end == buffer || *end != '\0' || errno != 0 || code < 0 || code > 255) return std::nullopt;
  return static_cast<int>(code);
}

}  // namespace

struct Supervisor::Impl {
  struct Task {
    std::string id;
    int pgid = 0;
    uint64_t start_ticks = 0;
    bool adopted = false;
    std::string exit_file;
    int pidfd = -1;
    // Guarded by Impl::mu.
    int ladder_step = kLadderNone;
    Clock::time_point next_step;
    bool ladder_stopped = false;  ///< the leader is gone: no further signal
    std::thread watcher;

    ~Task() {
      if (pidfd >= 0) ::close(pidfd);
    }
  };

  Impl(ExitCallback callback, TerminateOptions opts)
      : on_exit(std::move(callback)), options(opts) {}

  void watch(const std::shared_ptr<Task>& task);
  bool wait_for_leader(const Task& task, std::optional<int>* leader_status);
  bool wait_event(int pidfd, int timeout_ms);
  void clear_group(int pgid, std::optional<int>* leader_status);
  ExitInfo exit_info(const Task& task, const std::optional<int>& leader_status, int ladder_step);
  void finish(const std::shared_ptr<Task>& task, const ExitInfo& info);
  void launch(const std::shared_ptr<Task>& task);
  void start_ladder(Task& task);
  void run_ladder();
  void escalate(Task& task, Clock::time_point now);
  bool leader_alive(const Task& task) const;
  void join_finished();
  Status check_new_task(const std::string& task_id) const;

  const ExitCallback on_exit;
  const TerminateOptions options;
  int stop_fd = -1;               ///< eventfd, readable once watchers must stop (detach)
  std::atomic<bool> stop{false};  ///< the same, for a watcher without stop_fd

  mutable std::mutex mu;
  std::condition_variable ladder_cv;  ///< a ladder step was scheduled, or stopping
  std::condition_variable done_cv;    ///< a task ended or was added
  std::map<std::string, std::shared_ptr<Task>> tasks;
  std::set<std::string> starting;  ///< ids being spawned right now
  int callbacks_running = 0;
  bool detached = false;
  bool stopping = false;              ///< the ladder thread ends
  std::vector<std::thread> finished;  ///< watchers that ended, to be joined
  std::thread ladder;
};

void Supervisor::Impl::watch(const std::shared_ptr<Task>& task) {
  std::optional<int> leader_status;
  if (!wait_for_leader(*task, &leader_status)) return;  // detached: leave everything as it is
  int ladder_step;
  {
    std::lock_guard<std::mutex> lock(mu);
    task->ladder_stopped = true;
    ladder_step = task->ladder_step;
  }
  clear_group(task->pgid, &leader_status);
  finish(task, exit_info(*task, leader_status, ladder_step));
}

/// Blocks until the task's leader is gone (true) or the supervisor detaches (false). Own
/// children are reaped here; so are children of this process in an adopted group (a task
/// started by an earlier supervisor of this same process).
bool Supervisor::Impl::wait_for_leader(const Task& task, std::optional<int>* leader_status) {
  for (;;) {
    const bool children_left = reap_group(task.pgid, leader_status);
    if (leader_status->has_value()) return true;
    // An own leader that is no longer our child was reaped elsewhere: its status is lost.
    if (!task.adopted && !children_left) return true;
    if (task.adopted && !leader_alive(task)) return true;
    const int timeout = task.pidfd < 0 ? kNoPidfdPollMs
                        : task.adopted ? kAdoptedPollMs
                                       : kOwnPollMs;
    if (!wait_event(task.pidfd, timeout)) return false;
  }
}

/// Waits until `pidfd` is readable (the process exited) or `timeout_ms` passed: true; false
/// when the supervisor detaches.
bool Supervisor::Impl::wait_event(int pidfd, int timeout_ms) {
  pollfd fds[2] = {{stop_fd, POLLIN, 0}, {pidfd, POLLIN, 0}};  // poll skips negative fds
  const int n = ::poll(fds, 2, timeout_ms);
  if (n > 0 && (fds[0].revents & POLLIN) != 0) return false;
  return !stop.load();
}

/// Kills what is left of group `pgid` and waits until none of it lives, reaping this process's
/// children in it (orphans of the group are reparented here: this process is a subreaper).
void Supervisor::Impl::clear_group(int pgid, std::optional<int>* leader_status) {
  for (;;) {
    ::kill(-pgid, SIGKILL);
    const bool children_left = reap_group(pgid, leader_status);
    if (!children_left && !group_lingers(pgid)) return;
    std::this_thread::sleep_for(kClearPoll);
  }
}

ExitInfo Supervisor::Impl::exit_info(const Task& task, const std::optional<int>& leader_status,
                                     int ladder_step) {
  ExitInfo info;
  if (leader_status && WIFEXITED(*leader_status)) {
    info.exit_code = WEXITSTATUS(*leader_status);
  } else if (leader_status && WIFSIGNALED(*leader_status)) {
    info.signal = WTERMSIG(*leader_status);
    info.exit_code = 128 + info.signal;
  } else if (task.adopted) {
    info.exit_code = read_exit_file(task.exit_file);
  }
  info.terminated = ladder_step != kLadderNone;
  if (ladder_step == kLadderSigint) {
    info.detail = "terminated by SIGINT";
  } else if (ladder_step == kLadderSigterm) {
    info.detail =
        "terminated by SIGTERM after " + format_seconds(options.sigint_grace_s) + " s grace";
  } else if (ladder_step == kLadderSigkill) {
    info.detail = "killed by SIGKILL after " +
                  format_seconds(options.sigint_grace_s + options.sigterm_grace_s) + " s grace";
  } else if (!info.exit_code) {
    info.detail = "exit code unknown";
  } else if (info.signal != 0) {
    info.detail = "killed by " + signal_name(info.signal);
  } else {
    info.detail = "exited with code " + std::to_string(*info.exit_code);
  }
  return info;
}

void Supervisor::Impl::finish(const std::shared_ptr<Task>& task, const ExitInfo& info) {
  {
    std::lock_guard<std::mutex> lock(mu);
    tasks.erase(task->id);
    ++callbacks_running;
  }
  if (on_exit) on_exit(task->id, info);
  std::lock_guard<std::mutex> lock(mu);
  --callbacks_running;
  finished.push_back(std::move(task->watcher));
  done_cv.notify_all();
}

/// Registers `task` and starts its watcher. Requires mu held, so that the watcher cannot
/// finish before its thread object is stored.
void Supervisor::Impl::launch(const std::shared_ptr<Task>& task) {
  tasks[task->id] = task;
  task->watcher = std::thread([this, task] { watch(task); });
  done_cv.notify_all();
}

/// Sends SIGINT to the group and schedules SIGTERM. Requires mu held.
void Supervisor::Impl::start_ladder(Task& task) {
  if (task.ladder_step != kLadderNone || task.ladder_stopped) return;
  task.ladder_step = kLadderSigint;
  ::kill(-task.pgid, SIGINT);
  task.next_step = Clock::now() + seconds(options.sigint_grace_s);
  ladder_cv.notify_all();
}

void Supervisor::Impl::run_ladder() {
  std::unique_lock<std::mutex> lock(mu);
  while (!stopping) {
    const Clock::time_point now = Clock::now();
    Clock::time_point next = Clock::time_point::max();
    for (auto& entry : tasks) {
      Task& task = *entry.second;
      const bool pending = task.ladder_step == kLadderSigint || task.ladder_step == kLadderSigterm;
      if (!pending || task.ladder_stopped) continue;
      if (task.next_step <= now) escalate(task, now);
      if (task.ladder_step != kLadderSigkill && !task.ladder_stopped) {
        next = std::min(next, task.next_step);
      }
    }
    if (next == Clock::time_point::max()) {
      ladder_cv.wait(lock);
    } else {
      ladder_cv.wait_until(lock, next);
    }
  }
}

/// The next step of the ladder: SIGTERM after SIGINT, SIGKILL after SIGTERM. Requires mu held.
void Supervisor::Impl::escalate(Task& task, Clock::time_point now) {
  if (!leader_alive(task)) {  // it ended on the last signal; its watcher is finishing
    task.ladder_stopped = true;
    return;
  }
  ++task.ladder_step;
  ::kill(-task.pgid, task.ladder_step == kLadderSigterm ? SIGTERM : SIGKILL);
  task.next_step = now + seconds(options.sigterm_grace_s);
}

bool Supervisor::Impl::leader_alive(const Task& task) const {
  const std::optional<ProcStat> stat = read_proc_stat(task.pgid);
  return stat && !stat->is_zombie() && stat->start_ticks == task.start_ticks;
}

void Supervisor::Impl::join_finished() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu);
    threads.swap(finished);
  }
  for (std::thread& thread : threads) {
    if (thread.joinable()) thread.join();
  }
}

/// Requires mu held.
Status Supervisor::Impl::check_new_task(const std::string& task_id) const {
  if (detached) return Status::failed_precondition("the supervisor is detached; it starts no task");
  if (tasks.count(task_id) != 0 || starting.count(task_id) != 0) {
    return Status::already_exists("task " + task_id + " is already supervised");
  }
  return Status::ok();
}

Supervisor::Supervisor(ExitCallback on_exit, TerminateOptions options)
    : impl_(std::make_unique<Impl>(std::move(on_exit), options)) {
  // Without it, orphans of a task would be reparented to init: still reaped, but no longer
  // ours to wait for. Nothing better to do when the kernel refuses.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  impl_->stop_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  impl_->ladder = std::thread([impl = impl_.get()] { impl->run_ladder(); });
}

Supervisor::~Supervisor() {
  if (!impl_->detached) terminate_all_and_wait();
  detach();
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->ladder_cv.notify_all();
  impl_->ladder.join();
  impl_->join_finished();
  if (impl_->stop_fd >= 0) ::close(impl_->stop_fd);
}

Result<ProcessHandle> Supervisor::spawn(const std::string& task_id, const SpawnSpec& spec) {
  impl_->join_finished();
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    DLNEST_RETURN_IF_ERROR(impl_->check_new_task(task_id));
    impl_->starting.insert(task_id);
  }
  Result<StartedProcess> started = start_process(spec);
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->starting.erase(task_id);
  if (!started.is_ok()) return started.status();
  auto task = std::make_shared<Impl::Task>();
  task->id = task_id;
  task->pgid = started->pid;
  task->pidfd = started->pidfd;
  // Our unreaped child: /proc has it even if it has exited already.
  const std::optional<ProcStat> stat = read_proc_stat(started->pid);
  task->start_ticks = stat ? stat->start_ticks : 0;
  if (!impl_->detached) impl_->launch(task);
  return ProcessHandle{task->pgid, task->start_ticks};
}

Status Supervisor::adopt(const std::string& task_id, const ProcessHandle& process,
                         const std::string& exit_file) {
  impl_->join_finished();
  std::lock_guard<std::mutex> lock(impl_->mu);
  DLNEST_RETURN_IF_ERROR(impl_->check_new_task(task_id));
  auto task = std::make_shared<Impl::Task>();
  task->id = task_id;
  task->pgid = process.pid;
  task->start_ticks = process.start_ticks;
  task->adopted = true;
  task->exit_file = exit_file;
  // Opened before the check, so that it is known to refer to the checked process.
  task->pidfd = open_pidfd(process.pid);
  if (process.pid <= 0 || !impl_->leader_alive(*task)) {
    return Status::not_found("process " + std::to_string(process.pid) + " of task " + task_id +
                             " is gone (or its pid belongs to another process now)");
  }
  const std::optional<ProcStat> stat = read_proc_stat(process.pid);
  if (!stat || stat->pgrp != process.pid) {
    return Status::failed_precondition("process " + std::to_string(process.pid) + " of task " +
                                       task_id + " does not lead a process group");
  }
  impl_->launch(task);
  return Status::ok();
}

Status Supervisor::terminate(const std::string& task_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const auto it = impl_->tasks.find(task_id);
  if (it == impl_->tasks.end()) return Status::not_found("task " + task_id + " is not running");
  impl_->start_ladder(*it->second);
  return Status::ok();
}

void Supervisor::terminate_all_and_wait() {
  std::unique_lock<std::mutex> lock(impl_->mu);
  for (;;) {
    for (auto& entry : impl_->tasks) impl_->start_ladder(*entry.second);
    if (impl_->tasks.empty() && impl_->callbacks_running == 0) return;
    impl_->done_cv.wait(lock);
  }
}

void Supervisor::detach() {
  std::vector<std::thread> watchers;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->detached) return;
    impl_->detached = true;
    for (auto& entry : impl_->tasks) watchers.push_back(std::move(entry.second->watcher));
  }
  impl_->stop.store(true);
  if (impl_->stop_fd >= 0) {
    const uint64_t one = 1;
    const ssize_t written = ::write(impl_->stop_fd, &one, sizeof one);
    (void)written;  // the flag alone stops the watchers at their next poll timeout
  }
  for (std::thread& watcher : watchers) {
    if (watcher.joinable()) watcher.join();
  }
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->tasks.clear();
  }
  impl_->join_finished();
}

bool Supervisor::is_running(const std::string& task_id) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->tasks.count(task_id) != 0;
}

std::vector<int> Supervisor::group_members(const std::string& task_id) const {
  int pgid = 0;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    const auto it = impl_->tasks.find(task_id);
    if (it == impl_->tasks.end()) return {};
    pgid = it->second->pgid;
  }
  return process_group_members(pgid);
}

std::vector<int> process_group_members(int pgid) {
  std::vector<int> pids;
  for (const ProcStat& member : list_group(pgid)) pids.push_back(member.pid);
  return pids;
}

}  // namespace dlnest
