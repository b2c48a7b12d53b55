#include "server/task_manager.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "analyzer/command_channel.h"
#include "dlnest/save_package.h"
#include "env/path.h"
#include "server/memory_estimate.h"
#include "task/train_package.h"

namespace dlnest {
namespace {

/// Total and available memory of this machine in MB, from /proc/meminfo.
std::pair<double, double> host_memory_mb() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double value = 0;
  std::string unit;
  double total = 0;
  double available = 0;
  while (in >> key >> value >> unit) {
    if (key == "MemTotal:") total = value / 1024;
    if (key == "MemAvailable:") available = value / 1024;
  }
  return {total, available};
}

PackageFacts facts_of(const SavePackage& package) {
  return PackageFacts{package.root(), package.args(), package.description()};
}

Json device_entry(const DeviceInfo& d, const SchedulerSettings& settings) {
  Json entry = Json::object();
  entry["ID"] = d.index;
  entry["type"] = d.is_cpu() ? "CPU" : "GPU";
  entry["name"] = d.name;
  entry["is_break"] = d.broken;
  entry["error"] = d.error;
  if (d.is_cpu()) {
    const auto [total, available] = host_memory_mb();
    entry["total_memory"] = total;
    entry["free_memory"] = available;
    entry["used_memory"] = total - available;
  } else {
    entry["total_memory"] = static_cast<double>(d.total_mb);
    entry["free_memory"] = static_cast<double>(d.free_mb);
    entry["used_memory"] = static_cast<double>(d.used_mb);
  }
  entry["gpu_util"] = d.gpu_util;
  entry["memory_util"] = d.memory_util;
  const auto& allowed = settings.allowed_devices;
  entry["allowed"] = d.is_cpu() || !allowed ||
                     std::find(allowed->begin(), allowed->end(), d.index) != allowed->end();
  return entry;
}

}  // namespace

TaskManager::TaskManager(TaskManagerOptions options, StateStore store, MessageLog* log)
    : options_(std::move(options)), store_(std::move(store)), log_(log) {
  DispatcherOptions d;
  d.launch = options_.launch;
  d.tasks_dir = path::join(options_.state_dir, "tasks");
  d.delay_s = options_.delay_s;
  d.max_task_per_device = options_.max_task_per_device;
  d.end_tasks_on_exit = options_.end_tasks_on_exit;
  d.ledger = options_.ledger.get();
  dispatcher_ = std::make_unique<Dispatcher>(std::move(d), &store_, options_.probe.get(),
                                             options_.runner.get(), log_);
  sampler_ = std::make_unique<MemorySampler>(&store_, options_.probe.get(), options_.runner.get(),
                                             log_, options_.memory_sample_s);
}

Result<std::unique_ptr<TaskManager>> TaskManager::open(TaskManagerOptions options,
                                                       MessageLog* log) {
  if (options.probe == nullptr) return Status::invalid_argument("TaskManager needs a device probe");
  if (options.runner == nullptr) return Status::invalid_argument("TaskManager needs a task runner");
  if (options.delay_s <= 0) return Status::invalid_argument("delay must be positive");
  if (!(options.memory_sample_s > 0)) {
    return Status::invalid_argument("the memory sampling interval must be positive");
  }
  DLNEST_ASSIGN_OR_RETURN(StateStore store, StateStore::open(options.state_dir));
  DLNEST_RETURN_IF_ERROR(Env::default_env()->create_dirs(path::join(options.state_dir, "tasks")));
  std::unique_ptr<TaskManager> manager(new TaskManager(std::move(options), std::move(store), log));
  const std::string notice = manager->options_.probe->notice();
  if (!notice.empty()) log->add("[Devices] ", notice);
  manager->dispatcher_->recover();
  manager->dispatcher_->start();
  manager->sampler_->start();
  return manager;
}

TaskManager::~TaskManager() {
  stop();
}

void TaskManager::stop() {
  sampler_->stop();
  dispatcher_->stop();
}

void TaskManager::wake() {
  dispatcher_->wake();
}

std::string TaskManager::output_file(const TaskRecord& task) const {
  return task_output_file(task, dispatcher_->files());
}

Status TaskManager::run_exp(const std::string& id, const std::string& command) {
  DLNEST_ASSIGN_OR_RETURN(TaskRecord task, store_.get(id));
  // A queued or starting analyzer finds the command in its spool (docs/analyzer.md).
  if (task.state != TaskState::kPending && task.state != TaskState::kBuilding &&
      task.state != TaskState::kRunning) {
    return Status::failed_precondition("analysis task " + id + " is " +
                                       task_state_name(task.state) + ", not running");
  }
  return send_analyzer_command(dispatcher_->files().analyzer_socket(id), command);
}

// ---- submissions ----

MachineFacts TaskManager::machine_facts() {
  return MachineFacts{dispatcher_->probe_devices().gpu_count()};
}

Result<TaskRecord> TaskManager::queue(TaskRecord task, bool memory_auto, const std::string& what) {
  task.config_digest = config_digest(task.type, task.args);
  std::optional<TaskRecord> last;
  if (memory_auto) {
    DLNEST_ASSIGN_OR_RETURN(last, store_.last_peak(task.config_digest));
  }
  const MemoryChoice memory = choose_memory(MemoryRequest{task.memory_mb, memory_auto}, last);
  task.memory_mb = memory.memory_mb;
  task.memory_source = memory.source;
  DLNEST_ASSIGN_OR_RETURN(std::string id, store_.add_with_new_id(std::move(task)));
  DLNEST_ASSIGN_OR_RETURN(TaskRecord queued, store_.get(id));
  log_->add("[" + what + "] ", id + " queued: " + queued.package_dir +
                                   (queued.cpu ? " (CPU)" : "") +
                                   (memory_auto ? " (memory " + queued.memory_source + ")" : ""));
  wake();
  return queued;
}

Result<TaskRecord> TaskManager::submit_train(const TrainSubmit& submit) {
  DLNEST_RETURN_IF_ERROR(check_train_request(submit.resources, machine_facts()));
  TrainSubmission submission;
  submission.config_path = path::absolute(submit.config_path);
  submission.freq_path = submit.freq_path.empty() ? "" : path::absolute(submit.freq_path);
  submission.package.description = submit.description;
  submission.package.no_save = submit.no_save;
  submission.package.use_description = submit.use_description;
  DLNEST_ASSIGN_OR_RETURN(CreatedPackage created, create_train_package(submission));
  DLNEST_ASSIGN_OR_RETURN(SavePackage package, SavePackage::open(created.package_dir));
  return queue(admit_train(submit, facts_of(package), created.project_dir),
               submit.resources.memory_auto, "Run train");
}

Result<TaskRecord> TaskManager::submit_continue(const ContinueSubmit& submit) {
  DLNEST_RETURN_IF_ERROR(check_continue_request(submit, machine_facts()));
  DLNEST_ASSIGN_OR_RETURN(SavePackage package,
                          SavePackage::open(path::absolute(submit.record_path)));
  DLNEST_RETURN_IF_ERROR(package.checkpoint_path(static_cast<int>(submit.checkpoint_id)).status());
  DLNEST_ASSIGN_OR_RETURN(std::vector<TaskRecord> active_tasks, active());
  DLNEST_RETURN_IF_ERROR(check_package_free(package.root(), active_tasks));
  if (!submit.args_changes.empty()) {
    DLNEST_RETURN_IF_ERROR(change_package_args(package.root(), submit.args_changes,
                                               static_cast<int>(submit.checkpoint_id))
                               .status());
    DLNEST_ASSIGN_OR_RETURN(package, SavePackage::open(package.root()));
  }
  return queue(admit_continue(submit, facts_of(package)), submit.resources.memory_auto,
               "Continue train");
}

Result<TaskRecord> TaskManager::submit_analyze(const AnalyzeSubmit& submit) {
  DLNEST_RETURN_IF_ERROR(check_analyze_request(submit, machine_facts()));
  DLNEST_ASSIGN_OR_RETURN(SavePackage package,
                          SavePackage::open(path::absolute(submit.record_path)));
  if (submit.checkpoint_id != -2) {
    DLNEST_RETURN_IF_ERROR(
        package.checkpoint_path(static_cast<int>(submit.checkpoint_id)).status());
  }
  const std::string scripts = submit.script_path.empty()
                                  ? path::join(package.root(), SavePackage::kAnalyzeScriptsDir)
                                  : path::absolute(submit.script_path);
  if (!Env::default_env()->is_directory(scripts)) {
    return Status::not_found("analysis script folder " + scripts + " does not exist");
  }
  return queue(admit_analyze(submit, facts_of(package), scripts), submit.memory_auto, "Analyze");
}

Status TaskManager::delete_task(const std::string& id) {
  return dispatcher_->delete_task(id);
}

// ---- queries ----

Result<TaskRecord> TaskManager::get(const std::string& id) {
  return store_.get(id);
}

Result<std::vector<TaskRecord>> TaskManager::active() {
  std::vector<TaskRecord> tasks;
  for (TaskState state : {TaskState::kPending, TaskState::kBuilding, TaskState::kRunning}) {
    DLNEST_ASSIGN_OR_RETURN(std::vector<TaskRecord> some, store_.list(state));
    tasks.insert(tasks.end(), std::make_move_iterator(some.begin()),
                 std::make_move_iterator(some.end()));
  }
  std::stable_sort(tasks.begin(), tasks.end(), [](const TaskRecord& a, const TaskRecord& b) {
    return a.submit_time < b.submit_time;
  });
  return tasks;
}

Result<std::vector<TaskRecord>> TaskManager::history(size_t limit) {
  return store_.list_ended(limit);
}

Result<int64_t> TaskManager::clear_history() {
  return store_.clear_finished();
}

Json TaskManager::devices_info() {
  const DeviceSnapshot snapshot = dispatcher_->probe_devices();
  std::map<int, std::vector<std::string>> tasks_on = dispatcher_->tasks_by_device();
  const std::map<int, double> last_use = dispatcher_->last_use_times();
  const SchedulerSettings settings = dispatcher_->settings();
  Json info = Json::array();
  for (const DeviceInfo& d : snapshot.devices) {
    Json entry = device_entry(d, settings);
    Json running = Json::array();
    for (const std::string& id : tasks_on[d.index]) {
      auto task = store_.get(id);
      if (task.is_ok()) running.push_back(task_to_json(*task));
    }
    entry["num_tasks"] = running.size();
    entry["running_tasks"] = std::move(running);
    auto lu = last_use.find(d.index);
    entry["last_use_time"] = lu == last_use.end() ? Json(0) : Json(lu->second);
    info.push_back(std::move(entry));
  }
  return info;
}

Json TaskManager::server_info() {
  const SchedulerSettings settings = dispatcher_->settings();
  Json info = Json::object();
  info["pid"] = static_cast<int>(::getpid());
  info["state_dir"] = options_.state_dir;
  info["delay"] = dispatcher_->delay();
  info["max_task_per_device"] = settings.max_task_per_device;
  info["devices"] = settings.allowed_devices ? Json(*settings.allowed_devices) : Json(nullptr);
  info["device_probe"] = options_.probe->notice();
  return info;
}

// ---- settings ----

Status TaskManager::set_delay(double seconds) {
  return dispatcher_->set_delay(seconds);
}

Status TaskManager::set_allowed_devices(const std::vector<int64_t>& ids) {
  return dispatcher_->set_allowed_devices(ids);
}

Status TaskManager::set_max_task_per_device(int64_t n) {
  return dispatcher_->set_max_task_per_device(n);
}

}  // namespace dlnest
