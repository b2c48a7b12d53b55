// TaskManager: the server's info center. It joins the state database (the queue and the history),
// the device probe, the scheduler and the supervisor: tasks are submitted here, started when the
// scheduler places them, watched until they end, restarted when they allow it, and deleted on
// request. Torch-free.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "devices/device_probe.h"
#include "devices/simulated_probe.h"
#include "dlnest/config.h"
#include "dlnest/status.h"
#include "scheduler/scheduler.h"
#include "server/message_log.h"
#include "state/state_store.h"
#include "supervisor/supervisor.h"

namespace dlnest {

struct TaskManagerOptions {
  std::string state_dir;                 ///< holds state.db and tasks/<id>.exit
  std::string worker_path;               ///< dlnest-worker
  std::string dlnest_cmake_dir;          ///< for building projects on /run_train
  std::unique_ptr<DeviceProbe> probe;    ///< required
  double delay_s = 5;                    ///< the scheduler runs at least this often
  int max_task_per_device = 10000;
  /// Tasks end with the manager (dlnest local); running tasks of an earlier server are ended
  /// instead of adopted.
  bool end_tasks_on_exit = false;
  TerminateOptions terminate;
};

/// Where and how a training runs: what /run_train and /continue_train share.
struct TrainResources {
  int64_t memory_mb = kDefaultMemoryMb;
  bool cpu = false;
  bool ddp = false;
  int nproc = 0;  ///< DDP ranks on the CPU; 0: one
  bool multi_gpu = false;
  int max_restarts = 0;
};

/// /run_train.
struct TrainSubmit {
  std::string config_path;
  std::string freq_path;
  std::string description;
  bool no_save = false;
  bool use_description = false;
  TrainResources resources;
};

/// /continue_train.
struct ContinueSubmit {
  std::string record_path;
  int64_t checkpoint_id = kLatestCheckpoint;
  std::string description;
  TrainResources resources;
};

/// /analyze.
struct AnalyzeSubmit {
  std::string record_path;
  std::string script_path;  ///< empty: the package's AnalyzeScripts/
  int64_t checkpoint_id = kLatestCheckpoint;
  int64_t memory_mb = kDefaultMemoryMb;
  bool cpu = false;
};

class TaskManager {
 public:
  /// Opens the state in options.state_dir, settles the tasks a previous server left Running
  /// (adopts those still alive, records how the others ended, requeues those that allow a
  /// restart) and starts the scheduling thread. Messages go to `log`, which must outlive it.
  static Result<std::unique_ptr<TaskManager>> open(TaskManagerOptions options, MessageLog* log);
  ~TaskManager();

  /// Builds the project, creates the save package and queues the training.
  Result<TaskRecord> submit_train(const TrainSubmit& submit);
  /// Queues continuing the package from a checkpoint.
  Result<TaskRecord> submit_continue(const ContinueSubmit& submit);
  /// Queues an analysis task on the package.
  Result<TaskRecord> submit_analyze(const AnalyzeSubmit& submit);
  /// Ends a task: a pending one leaves the queue, a running one gets the termination ladder and
  /// becomes Killed once its processes are gone. Errors: unknown id, task already ended.
  Status delete_task(const std::string& id);

  Result<TaskRecord> get(const std::string& id);
  /// Pending and running tasks, in submission order.
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

  /// Runs one scheduling round now (also done on every submit, exit and `delay`).
  void wake();
  /// Stops scheduling. With end_tasks_on_exit, ends every task and waits; otherwise leaves the
  /// running tasks to be adopted by the next server. Idempotent.
  void stop();

  /// Sends `command` (a script name) to the running analysis task `id`.
  Status run_exp(const std::string& id, const std::string& command);

  /// The file a task's output goes to: the package's _output.txt for training, a file in the
  /// state dir for analysis.
  std::string output_file(const TaskRecord& task) const;

  /// The file a task's worker writes its exit code to.
  std::string exit_file(const std::string& id) const;
  /// The Unix socket an analysis task's worker listens on for commands.
  std::string analyzer_socket(const std::string& id) const;

 private:
  TaskManager(TaskManagerOptions options, StateStore store, MessageLog* log);

  struct Exit {
    std::string id;
    ExitInfo info;
  };

  void loop();
  void schedule_round();
  void handle_exits();
  void settle_previous_run();
  void end_task(const TaskRecord& task, const ExitInfo& info, bool deleted);
  void start_task(const TaskRecord& task, const Placement& placement, double now);
  SpawnSpec spawn_spec(const TaskRecord& task, const std::vector<int>& devices) const;
  /// The worker's flags for the task's devices: DDP ranks, or every GPU of a multi-GPU task.
  void add_device_flags(const TaskRecord& task, const std::vector<int>& devices,
                        std::vector<std::string>& argv) const;
  void update_allocations(const DeviceSnapshot& snapshot);
  Status check_package_free(const std::string& package_dir);
  Result<TaskRecord> queue(TaskRecord task, const std::string& what);
  /// The checks /run_train and /continue_train share, done before any work.
  Status check_resources(const TrainResources& resources);
  Status check_gpu_request(bool cpu);
  DeviceSnapshot probe_devices();

  TaskManagerOptions options_;
  StateStore store_;
  MessageLog* log_;
  SimulatedProbe* simulated_ = nullptr;  // options_.probe when the GPUs are simulated
  std::unique_ptr<Supervisor> supervisor_;
  std::mutex build_mu_;  // one project build at a time

  std::mutex mu_;  // guards everything below
  TaskScheduler scheduler_;
  SchedulerSettings settings_;
  double delay_s_;
  std::map<std::string, RunningTask> running_;
  std::set<std::string> deleting_;
  std::map<int, double> last_use_time_;
  DeviceSnapshot last_snapshot_;
  bool wake_ = false;
  bool stopping_ = false;
  std::condition_variable cv_;

  std::mutex exits_mu_;  // guards exits_ only; never held while calling the supervisor
  std::deque<Exit> exits_;

  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace dlnest
