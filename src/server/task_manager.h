// TaskManager: the server's info center as the HTTP layer sees it. It takes requests in
// (admission, then the package is created and the task queued in the state database), answers
// queries and settings, and hands the work to the Dispatcher, which starts, watches and ends the
// tasks. Torch-free.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "devices/device_probe.h"
#include "dlnest/config.h"
#include "dlnest/status.h"
#include "ledger/reservation_ledger.h"
#include "server/admission.h"
#include "server/dispatcher.h"
#include "server/memory_sampler.h"
#include "server/message_log.h"
#include "state/state_store.h"
#include "supervisor/supervisor.h"
#include "supervisor/task_runner.h"

namespace dlnest {

struct TaskManagerOptions {
  std::string state_dir;               ///< holds state.db and tasks/<id>.exit
  LaunchSettings launch;               ///< dlnest-worker, dlnest (builds), DLNest's CMake dir
  std::unique_ptr<DeviceProbe> probe;  ///< required
  std::unique_ptr<TaskRunner> runner;  ///< required: the Supervisor (or what wraps it)
  /// The other servers' reservations on this machine's GPUs; null: none are consulted.
  std::unique_ptr<ReservationLedger> ledger;
  double delay_s = 5;                  ///< the dispatcher runs at least this often
  /// How often the GPU memory of running tasks is sampled (server/memory_sampler.h).
  double memory_sample_s = 5;
  int max_task_per_device = 10000;
  /// Tasks end with the manager (dlnest local); running tasks of an earlier server are ended
  /// instead of adopted.
  bool end_tasks_on_exit = false;
};

class TaskManager {
 public:
  /// Opens the state in options.state_dir, settles the tasks a previous server left, and starts
  /// the dispatcher's thread. Messages go to `log`, which must outlive it.
  static Result<std::unique_ptr<TaskManager>> open(TaskManagerOptions options, MessageLog* log);
  ~TaskManager();

  /// Creates the save package (sources, merged args, seed) and queues the training; its plugin
  /// is built as the task's first stage (Building), so this answers at once.
  Result<TaskRecord> submit_train(const TrainSubmit& submit);
  /// Queues continuing the package from a checkpoint.
  Result<TaskRecord> submit_continue(const ContinueSubmit& submit);
  /// Queues an analysis task on the package.
  Result<TaskRecord> submit_analyze(const AnalyzeSubmit& submit);
  /// See Dispatcher::delete_task.
  Status delete_task(const std::string& id);

  Result<TaskRecord> get(const std::string& id);
  /// Pending, building and running tasks, in submission order.
  Result<std::vector<TaskRecord>> active();
  /// Ended tasks, oldest first, at most the `limit` most recent.
  Result<std::vector<TaskRecord>> history(size_t limit);
  /// Deletes the ended tasks from the history; returns how many.
  Result<int64_t> clear_history();

  /// The /get_devices_info entries.
  Json devices_info();
  /// The /get_server_info fields.
  Json server_info();

  Status set_delay(double seconds);
  /// Which GPUs new tasks may use; an id the probe does not know is an error naming it. -1 (the
  /// CPU) may be listed and is ignored: CPU tasks always run.
  Status set_allowed_devices(const std::vector<int64_t>& ids);
  Status set_max_task_per_device(int64_t n);

  /// Runs a dispatcher round soon (also done on every submit, exit and `delay`).
  void wake();
  /// Stops the dispatcher (see Dispatcher::stop). Idempotent.
  void stop();

  /// Sends `command` (a script name) to the running analysis task `id`.
  Status run_exp(const std::string& id, const std::string& command);

  /// The file a task's output goes to.
  std::string output_file(const TaskRecord& task) const;

 private:
  TaskManager(TaskManagerOptions options, StateStore store, MessageLog* log);

  /// Decides the task's memory estimate (`memory_auto`: from the last peak of the same project
  /// and config), then adds it to the queue.
  Result<TaskRecord> queue(TaskRecord task, bool memory_auto, const std::string& what);
  MachineFacts machine_facts();

  TaskManagerOptions options_;
  StateStore store_;
  MessageLog* log_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<MemorySampler> sampler_;  // declared last: stopped and destroyed first
};

}  // namespace dlnest
