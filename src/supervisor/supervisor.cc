#include "supervisor/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "env/regular_file.h"
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
// While the rest of a session dies after SIGKILL.
constexpr auto kClearPoll = std::chrono::milliseconds(10);

// Steps of the termination ladder: the last signal terminate() sent.
constexpr int kLadderNone = 0;
constexpr int kLadderSigint = 1;
constexpr int kLadderSigterm = 2;
constexpr int kLadderSigkill = 3;

/// Where a task's leader is in its start.
enum class Stage {
  kHeld,       ///< waiting at its gate
  kReleasing,  ///< release() is opening the gate and reading the exec report
  kRunning,    ///< released (or adopted)
  kAbandoned,  ///< its gate was closed unopened: it exits with kExitNeverStarted
};

/// A signal for a whole session, sent once the supervisor's lock is released.
struct SessionSignal {
  int sid;
  int sig;
};

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

/// Reaps `pid`, a child of this process, if it has exited; keeps its status if it leads `sid`.
void reap_child(int pid, int sid, std::optional<int>* leader_status) {
  int status = 0;
  pid_t reaped;
  do {
    reaped = ::waitpid(pid, &status, WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  if (reaped == sid) *leader_status = status;
}

bool pidfd_signal(int pidfd, int sig) {
#ifdef SYS_pidfd_send_signal
  return ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0u) == 0 || errno == ESRCH;
#else
  (void)pidfd;
  (void)sig;
  return false;
#endif
}

/// Sends `sig` to `pid` if it belongs to session `sid`, through a pidfd opened before the check:
/// a pid reused by another process meanwhile is never signalled.
void signal_member(int pid, int sid, int sig) {
  const UniqueFd pidfd(open_pidfd(pid));
  const std::optional<ProcStat> stat = read_proc_stat(pid);
  if (!stat || stat->session != sid) return;
  if (pidfd.valid() && pidfd_signal(pidfd.get(), sig)) return;
  ::kill(pid, sig);
}

/// Sends `sig` to every live process of session `sid`: one kill() for the leader's group, then
/// each member of another group (ninja puts every compiler in a group of its own).
void signal_session(int sid, int sig) {
  ::kill(-sid, sig);
  for (const ProcStat& member : list_session(sid)) {
    if (member.pgrp != sid && !member.is_zombie()) signal_member(member.pid, sid, sig);
  }
}

void send_all(const std::vector<SessionSignal>& signals) {
  for (const SessionSignal& s : signals) signal_session(s.sid, s.sig);
}

/// One pass over session `sid`: SIGKILL to every live member, and this process's exited
/// children in it reaped. Returns whether something of it remains: a live process, or a zombie
/// this process must reap (zombies of other parents are theirs to reap and hold nothing).
bool sweep_session(int sid, std::optional<int>* leader_status) {
  ::kill(-sid, SIGKILL);
  bool left = reap_group(sid, leader_status);
  const int self = ::getpid();
  for (const ProcStat& member : list_session(sid)) {
    if (!member.is_zombie()) {
      signal_member(member.pid, sid, SIGKILL);
      left = true;
    } else if (member.ppid == self) {
      reap_child(member.pid, sid, leader_status);
      left = true;  // the next pass makes sure
    }
  }
  return left;
}

}  // namespace

std::optional<int> read_exit_file(const std::string& path) {
  if (path.empty()) return std::nullopt;
  Result<UniqueFd> fd = open_regular_file(path, O_RDONLY);
  if (!fd.is_ok()) return std::nullopt;
  char buffer[32];
  const ssize_t n = ::read(fd->get(), buffer, sizeof buffer - 1);
  if (n <= 0) return std::nullopt;
  buffer[n] = '\0';
  char* end = nullptr;
  errno = 0;
  const long code = std::strtol(buffer, &end, 10);
  while (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t') ++end;
  if (end == buffer || *end != '\0' || errno != 0 || code < 0 || code > 255) return std::nullopt;
  return static_cast<int>(code);
}

struct Supervisor::Impl {
  struct Task {
    std::string id;
    int sid = 0;  ///< the leader's pid, session id and process group id
    uint64_t start_ticks = 0;
    bool adopted = false;
    std::string exit_file;
    UniqueFd pidfd;
    std::thread watcher;
    // Guarded by Impl::mu.
    Stage stage = Stage::kRunning;
    HeldProcess held;            ///< its gate and exec report while kHeld
    bool ended_at_gate = false;  ///< terminate() abandoned it
    std::string start_failure;   ///< why release() could not run the program
    int ladder_step = kLadderNone;
    Clock::time_point next_step;
    bool ladder_stopped = false;  ///< the leader is gone: no further signal
  };

  /// What the exit report is made of besides the wait status; copied under mu.
  struct Ending {
    int ladder_step = kLadderNone;
    bool gave_up = false;
    bool ended_at_gate = false;
    std::string start_failure;
  };

  explicit Impl(TerminateOptions opts) : options(opts) {}

  void watch(const std::shared_ptr<Task>& task);
  bool wait_for_leader(const Task& task, std::optional<int>* leader_status);
  bool wait_event(int pidfd, int timeout_ms);
  bool wait_released(Task& task, Ending* ending);
  ExitInfo exit_info(const Task& task, const std::optional<int>& leader_status,
                     const Ending& ending) const;
  void finish(const std::shared_ptr<Task>& task, const ExitInfo& info);
  void launch(const std::shared_ptr<Task>& task);
  HeldProcess give_up(Task& task);
  void begin_end(Task& task, std::vector<SessionSignal>* signals, std::vector<HeldProcess>* gates);
  bool start_ladder(Task& task);
  void run_ladder();
  Clock::time_point step_ladders(Clock::time_point now, std::vector<SessionSignal>* due);
  bool leader_alive(const Task& task) const;
  void join_finished();
  Status check_new_task(const std::string& task_id) const;
  std::shared_ptr<Task> find(const std::string& task_id) const;

  const TerminateOptions options;
  int stop_fd = -1;               ///< eventfd, readable once watchers must stop (detach)
  std::atomic<bool> stop{false};  ///< the same, for a watcher without stop_fd

  mutable std::mutex mu;
  std::condition_variable ladder_cv;  ///< a ladder step was scheduled, or stopping
  std::condition_variable done_cv;    ///< a task ended, was added or released, or detach
  ExitCallback on_exit;
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
  Ending ending;
  if (!wait_released(*task, &ending)) return;
  while (sweep_session(task->sid, &leader_status)) std::this_thread::sleep_for(kClearPoll);
  finish(task, exit_info(*task, leader_status, ending));
}

/// Blocks until the task's leader is gone (true) or the supervisor detaches (false). Own
/// children are reaped here; so are children of this process in an adopted group (a task
/// started by an earlier supervisor of this same process).
bool Supervisor::Impl::wait_for_leader(const Task& task, std::optional<int>* leader_status) {
  for (;;) {
    const bool children_left = reap_group(task.sid, leader_status);
    if (leader_status->has_value()) return true;
    // An own leader that is no longer our child was reaped elsewhere: its status is lost.
    if (!task.adopted && !children_left) return true;
    if (task.adopted && !leader_alive(task)) return true;
    const int timeout = !task.pidfd.valid() ? kNoPidfdPollMs
                        : task.adopted      ? kAdoptedPollMs
                                            : kOwnPollMs;
    if (!wait_event(task.pidfd.get(), timeout)) return false;
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

/// Stops the ladder of a task whose leader is gone, waits until a release() in progress has
/// read the exec report (its error becomes the exit's detail) and copies how the task ended.
/// False when the supervisor detaches meanwhile.
bool Supervisor::Impl::wait_released(Task& task, Ending* ending) {
  std::unique_lock<std::mutex> lock(mu);
  task.ladder_stopped = true;
  done_cv.wait(lock, [&] { return task.stage != Stage::kReleasing || detached; });
  if (detached) return false;
  ending->ladder_step = task.ladder_step;
  ending->gave_up = task.stage == Stage::kAbandoned;
  ending->ended_at_gate = task.ended_at_gate;
  ending->start_failure = task.start_failure;
  return true;
}

ExitInfo Supervisor::Impl::exit_info(const Task& task, const std::optional<int>& leader_status,
                                     const Ending& ending) const {
  ExitInfo info;
  if (leader_status && WIFEXITED(*leader_status)) {
    info.exit_code = WEXITSTATUS(*leader_status);
  } else if (leader_status && WIFSIGNALED(*leader_status)) {
    info.signal = WTERMSIG(*leader_status);
    info.exit_code = 128 + info.signal;
  } else if (task.adopted) {
    info.exit_code = read_exit_file(task.exit_file);
  }
  info.terminated = ending.ladder_step != kLadderNone || ending.ended_at_gate;
  if (ending.ladder_step == kLadderSigint) {
    info.detail = "terminated by SIGINT";
  } else if (ending.ladder_step == kLadderSigterm) {
    info.detail =
        "terminated by SIGTERM after " + format_seconds(options.sigint_grace_s) + " s grace";
  } else if (ending.ladder_step == kLadderSigkill) {
    info.detail = "killed by SIGKILL after " +
                  format_seconds(options.sigint_grace_s + options.sigterm_grace_s) + " s grace";
  } else if (info.never_started() && (ending.gave_up || task.adopted)) {
    info.detail = "never started: given up before it was released";
  } else if (!ending.start_failure.empty()) {
    info.detail = ending.start_failure;
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
  ExitCallback callback;
  {
    std::lock_guard<std::mutex> lock(mu);
    tasks.erase(task->id);
    ++callbacks_running;
    callback = on_exit;
  }
  if (callback) callback(task->id, info);
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

/// Takes the gate of a held task, to be closed once mu is released. Requires mu held.
HeldProcess Supervisor::Impl::give_up(Task& task) {
  task.stage = Stage::kAbandoned;
  return std::move(task.held);
}

/// Begins ending `task`: a held one gives up its gate (into `gates`), a running one starts its
/// ladder (its first signal into `signals`). Requires mu held.
void Supervisor::Impl::begin_end(Task& task, std::vector<SessionSignal>* signals,
                                 std::vector<HeldProcess>* gates) {
  if (task.stage == Stage::kHeld) {
    task.ended_at_gate = true;
    gates->push_back(give_up(task));
  } else if (task.stage != Stage::kAbandoned && start_ladder(task)) {
    signals->push_back({task.sid, SIGINT});
  }
}

/// Schedules SIGTERM after the SIGINT the caller sends; false when the ladder runs already or
/// the leader is gone. Requires mu held.
bool Supervisor::Impl::start_ladder(Task& task) {
  if (task.ladder_step != kLadderNone || task.ladder_stopped) return false;
  task.ladder_step = kLadderSigint;
  task.next_step = Clock::now() + seconds(options.sigint_grace_s);
  ladder_cv.notify_all();
  return true;
}

void Supervisor::Impl::run_ladder() {
  std::unique_lock<std::mutex> lock(mu);
  while (!stopping) {
    std::vector<SessionSignal> due;
    const Clock::time_point next = step_ladders(Clock::now(), &due);
    if (!due.empty()) {
      lock.unlock();
      send_all(due);
      lock.lock();
      continue;
    }
    if (next == Clock::time_point::max()) {
      ladder_cv.wait(lock);
    } else {
      ladder_cv.wait_until(lock, next);
    }
  }
}

/// Takes the ladder steps due at `now` (SIGTERM after SIGINT, SIGKILL after SIGTERM) into `due`;
/// returns when the next step is due. A leader gone meanwhile stops its ladder, so that the
/// report names the signal that ended it. Requires mu held.
Clock::time_point Supervisor::Impl::step_ladders(Clock::time_point now,
                                                 std::vector<SessionSignal>* due) {
  Clock::time_point next = Clock::time_point::max();
  for (auto& entry : tasks) {
    Task& task = *entry.second;
    const bool pending = task.ladder_step == kLadderSigint || task.ladder_step == kLadderSigterm;
    if (!pending || task.ladder_stopped) continue;
    if (task.next_step <= now) {
      if (!leader_alive(task)) {  // it ended on the last signal; its watcher is finishing
        task.ladder_stopped = true;
        continue;
      }
      ++task.ladder_step;
      due->push_back({task.sid, task.ladder_step == kLadderSigterm ? SIGTERM : SIGKILL});
      task.next_step = now + seconds(options.sigterm_grace_s);
    }
    if (task.ladder_step != kLadderSigkill) next = std::min(next, task.next_step);
  }
  return next;
}

/// One read of /proc/<pid>/stat (procfs: it does not block).
bool Supervisor::Impl::leader_alive(const Task& task) const {
  const std::optional<ProcStat> stat = read_proc_stat(task.sid);
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

/// Requires mu held.
std::shared_ptr<Supervisor::Impl::Task> Supervisor::Impl::find(const std::string& task_id) const {
  const auto it = tasks.find(task_id);
  return it == tasks.end() ? nullptr : it->second;
}

Supervisor::Supervisor(TerminateOptions options) : impl_(std::make_unique<Impl>(options)) {
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

void Supervisor::on_exit(ExitCallback callback) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->on_exit = std::move(callback);
}

Result<ProcessHandle> Supervisor::spawn(const std::string& task_id, const SpawnSpec& spec) {
  impl_->join_finished();
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    DLNEST_RETURN_IF_ERROR(impl_->check_new_task(task_id));
    impl_->starting.insert(task_id);
  }
  Result<HeldProcess> held = spawn_held(spec);
  // Our unreaped child, waiting at its gate: /proc has it.
  const std::optional<ProcStat> stat = held.is_ok() ? read_proc_stat(held->pid) : std::nullopt;
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->starting.erase(task_id);
  if (!held.is_ok()) return held.status();
  // Detached meanwhile: `held` closes its gate on return and the child never starts.
  DLNEST_RETURN_IF_ERROR(impl_->check_new_task(task_id));
  auto task = std::make_shared<Impl::Task>();
  task->id = task_id;
  task->sid = held->pid;
  task->start_ticks = stat ? stat->start_ticks : 0;
  task->pidfd = std::move(held->pidfd);
  task->stage = Stage::kHeld;
  task->held = std::move(*held);
  impl_->launch(task);
  return ProcessHandle{task->sid, task->start_ticks};
}

Status Supervisor::release(const std::string& task_id) {
  std::shared_ptr<Impl::Task> task;
  HeldProcess held;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    task = impl_->find(task_id);
    if (!task) return Status::not_found("task " + task_id + " is not supervised");
    if (task->stage != Stage::kHeld) {
      return Status::failed_precondition("task " + task_id + " is not waiting at its gate");
    }
    held = std::move(task->held);
    task->stage = Stage::kReleasing;
  }
  const Status status = release_held(&held);
  std::lock_guard<std::mutex> lock(impl_->mu);
  task->stage = Stage::kRunning;
  if (!status.is_ok()) task->start_failure = status.message();
  impl_->done_cv.notify_all();
  return status;
}

void Supervisor::abandon(const std::string& task_id) {
  HeldProcess gate;  // closed after the lock is released
  std::lock_guard<std::mutex> lock(impl_->mu);
  const std::shared_ptr<Impl::Task> task = impl_->find(task_id);
  if (task && task->stage == Stage::kHeld) gate = impl_->give_up(*task);
}

Status Supervisor::adopt(const std::string& task_id, const ProcessHandle& process,
                         const std::string& exit_file) {
  impl_->join_finished();
  std::lock_guard<std::mutex> lock(impl_->mu);
  DLNEST_RETURN_IF_ERROR(impl_->check_new_task(task_id));
  auto task = std::make_shared<Impl::Task>();
  task->id = task_id;
  task->sid = process.pid;
  task->start_ticks = process.start_ticks;
  task->adopted = true;
  task->exit_file = exit_file;
  // Opened before the check, so that it is known to refer to the checked process.
  task->pidfd.reset(open_pidfd(process.pid));
  if (process.pid <= 0 || !impl_->leader_alive(*task)) {
    return Status::not_found("process " + std::to_string(process.pid) + " of task " + task_id +
                             " is gone (or its pid belongs to another process now)");
  }
  // A task started by an earlier version of the server leads only its process group; its
  // group is still ended whole (kill(-pid) names a group as well as a session leader's).
  const std::optional<ProcStat> stat = read_proc_stat(process.pid);
  if (!stat || (stat->session != process.pid && stat->pgrp != process.pid)) {
    return Status::failed_precondition("process " + std::to_string(process.pid) + " of task " +
                                       task_id + " leads neither its session nor its group");
  }
  impl_->launch(task);
  return Status::ok();
}

Status Supervisor::terminate(const std::string& task_id) {
  std::vector<SessionSignal> signals;
  std::vector<HeldProcess> gates;  // closed after the lock is released
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    const std::shared_ptr<Impl::Task> task = impl_->find(task_id);
    if (!task) return Status::not_found("task " + task_id + " is not running");
    impl_->begin_end(*task, &signals, &gates);
  }
  send_all(signals);
  return Status::ok();
}

void Supervisor::terminate_all_and_wait() {
  std::unique_lock<std::mutex> lock(impl_->mu);
  for (;;) {
    std::vector<SessionSignal> signals;
    std::vector<HeldProcess> gates;
    for (auto& entry : impl_->tasks) impl_->begin_end(*entry.second, &signals, &gates);
    if (!signals.empty() || !gates.empty()) {
      lock.unlock();
      send_all(signals);
      gates.clear();
      lock.lock();
      continue;
    }
    if (impl_->tasks.empty() && impl_->callbacks_running == 0) return;
    impl_->done_cv.wait(lock);
  }
}

void Supervisor::detach() {
  std::vector<std::thread> watchers;
  std::vector<HeldProcess> gates;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->detached) return;
    impl_->detached = true;
    for (auto& entry : impl_->tasks) {
      Impl::Task& task = *entry.second;
      watchers.push_back(std::move(task.watcher));
      if (task.stage == Stage::kHeld) gates.push_back(impl_->give_up(task));
    }
  }
  impl_->stop.store(true);
  impl_->done_cv.notify_all();
  if (impl_->stop_fd >= 0) {
    const uint64_t one = 1;
    const ssize_t written = ::write(impl_->stop_fd, &one, sizeof one);
    (void)written;  // the flag alone stops the watchers at their next poll timeout
  }
  for (std::thread& watcher : watchers) {
    if (watcher.joinable()) watcher.join();
  }
  gates.clear();  // held children never start: no later server could release them
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

std::vector<int> Supervisor::task_pids(const std::string& task_id) const {
  int sid = 0;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    const std::shared_ptr<Impl::Task> task = impl_->find(task_id);
    if (!task) return {};
    sid = task->sid;
  }
  std::vector<int> pids;
  for (const ProcStat& member : list_session(sid)) pids.push_back(member.pid);
  return pids;
}

std::vector<int> process_group_members(int pgid) {
  std::vector<int> pids;
  for (const ProcStat& member : list_group(pgid)) pids.push_back(member.pid);
  return pids;
}

}  // namespace dlnest
