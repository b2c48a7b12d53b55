// Dispatcher: the server's core loop. It takes the queue from the state database, runs each new
// training's build stage, asks the scheduler where pending tasks start, starts them through the
// task runner, turns process exits into task states (restarts included), deletes tasks, and
// settles the tasks an earlier server left. It depends only on seams: the TaskRunner (the
// supervisor, or a fake), the DeviceProbe, the state store and a clock.
//
// Lock discipline: mu_ guards in-memory state only. Every database write, file read, fork/exec
// and probe happens with no lock held, so a task whose files misbehave fails alone.
//
// Crash-exact starts: the runner spawns a held process, the database records it, and only then
// is it released (see TaskRunner). Deletes are recorded before they are answered. A `kill -9` at
// any instant therefore leaves one worker per task or none, and the next server knows which.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "devices/device_probe.h"
#include "dlnest/status.h"
#include "ledger/reservation_ledger.h"
#include "scheduler/scheduler.h"
#include "server/launch.h"
#include "server/message_log.h"
#include "server/task_end.h"
#include "state/state_store.h"
#include "supervisor/task_runner.h"

namespace dlnest {

struct DispatcherOptions {
  LaunchSettings launch;
  std::string tasks_dir;  ///< <state dir>/tasks: exit files, build errors, sockets
  double delay_s = 5;     ///< a round runs at least this often
  int max_task_per_device = 10000;
  int max_parallel_builds = 2;  ///< builds of different projects at once (one per project)
  /// Tasks end with the dispatcher (dlnest local); tasks of an earlier server are ended instead
  /// of adopted.
  bool end_tasks_on_exit = false;
  std::function<double()> clock;  ///< wall-clock seconds; empty: the system clock
  /// The reservations of the machine's other servers (not owned); null: this server is alone.
  ReservationLedger* ledger = nullptr;
};

class Dispatcher {
 public:
  /// None of the pointers is owned; all must outlive the dispatcher. Sets the runner's exit
  /// callback.
  Dispatcher(DispatcherOptions options, StateStore* store, DeviceProbe* probe, TaskRunner* runner,
             MessageLog* log);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  /// Settles the tasks an earlier server left Building or Running: adopts those whose process
  /// lives (ending them when deleted or with end_tasks_on_exit), and decides the end of the others
  /// from their exit files with the same rule as a live exit. Call once, before start().
  void recover();
  /// Runs rounds on a thread: on wake(), on every exit, and every `delay` seconds.
  void start();
  /// Stops the thread. With end_tasks_on_exit ends every task and waits; otherwise leaves the
  /// tasks to the next server. Idempotent.
  void stop();
  /// One round, on the calling thread: handle exits, start builds, place pending tasks.
  void run_once();
  /// Asks for a round soon.
  void wake();

  /// Deletes a task: a pending one ends Killed at once; a building or running one is recorded
  /// as deleted, then its processes are ended (it becomes Killed when they are gone). Errors:
  /// unknown id, task already ended.
  Status delete_task(const std::string& id);

  Status set_delay(double seconds);
  Status set_allowed_devices(const std::vector<int64_t>& ids);
  Status set_max_task_per_device(int64_t n);
  double delay() const;
  SchedulerSettings settings() const;

  /// A fresh device snapshot (kept for the next round's decisions as well).
  DeviceSnapshot probe_devices();
  /// The ids of the running tasks on each device.
  std::map<int, std::vector<std::string>> tasks_by_device() const;
  /// When each device was last given a task (wall-clock seconds).
  std::map<int, double> last_use_times() const;
  const TaskFiles& files() const { return files_; }

 private:
  struct Exit {
    std::string id;
    ExitInfo info;
  };
  using RecordStart = std::function<Status(const ProcessHandle&)>;

  double now() const;
  void loop();
  void handle_exits();
  void apply_end(const TaskRecord& task, const TaskEnd& end, std::optional<int> exit_code);
  void settle(const TaskRecord& task);
  void start_builds();
  void schedule_round();
  /// Decides this round's placements on `devices` (others' reservations already subtracted)
  /// and reserves them; returns them with this server's reservations to publish.
  std::vector<Placement> plan_round(const std::vector<GpuState>& devices,
                                    const std::vector<TaskRecord>& pending, double time,
                                    std::vector<Reservation>* reservations);
  /// The reservations of the tasks started and not yet allocated. mu_ must be held.
  std::vector<Reservation> own_reservations(double time) const;
  /// Logs a problem of the ledger once, not every round.
  void note_ledger(const Status& status);
  void mark_allocations(const DeviceSnapshot& snapshot);
  bool launch(const TaskRecord& task, const SpawnSpec& spec, const RecordStart& record);
  /// Why a task failed: its failed build's first error line, or the error its output ends with.
  std::string end_reason(const TaskRecord& task) const;

  DispatcherOptions options_;
  TaskFiles files_;
  StateStore* store_;
  DeviceProbe* probe_;
  TaskRunner* runner_;
  MessageLog* log_;

  mutable std::mutex mu_;  // guards everything below; never held across I/O
  TaskScheduler scheduler_;
  SchedulerSettings settings_;
  double delay_s_;
  std::map<std::string, RunningTask> running_;
  std::map<std::string, std::string> building_;  // task id -> project folder
  std::map<int, double> last_use_time_;
  std::string ledger_problem_;  // the last problem logged by note_ledger
  bool wake_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  std::condition_variable cv_;

  std::mutex exits_mu_;  // guards exits_ only
  std::deque<Exit> exits_;

  std::thread thread_;
};

}  // namespace dlnest
