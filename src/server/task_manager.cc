#include "server/task_manager.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "dlnest/save_package.h"
#include "env/path.h"
#include "analyzer/command_channel.h"
#include "state/process_probe.h"
#include "task/train_package.h"

namespace dlnest {
namespace {

double wall_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string devices_text(const std::vector<int>& devices) {
  std::string out = "[";
  for (size_t i = 0; i < devices.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(devices[i]);
  }
  return out + "]";
}

/// The exit code a worker wrote to `file`, or nullopt.
std::optional<int> read_exit_file(const std::string& file) {
  std::ifstream in(file);
  int code = 0;
  if (in >> code) return code;
  return std::nullopt;
}

/// The most DDP ranks a CPU task may ask for.
constexpr int kMaxNproc = 1024;

/// `nproc` asks for CPU ranks of a DDP task; 0 leaves the default.
Status check_memory(int64_t memory_mb) {
  if (memory_mb == 0 || memory_mb < kDefaultMemoryMb) {
    return Status::invalid_argument("memory_consumption must be a positive number of MB or -1");
  }
  return Status::ok();
}

/// A training task of `package` with `resources` (type, args, package, devices asked for).
TaskRecord train_record(const SavePackage& package, const TrainResources& resources) {
  TaskRecord task;
  task.type = TaskType::kTrain;
  task.args = package.args();
  task.package_dir = package.root();
  task.memory_mb = resources.memory_mb;
  task.cpu = resources.cpu;
  task.multi_gpu = resources.multi_gpu || resources.ddp;
  task.ddp = resources.ddp;
  task.nproc = resources.nproc;
  task.max_restarts = resources.max_restarts;
  return task;
}

Status check_nproc(int nproc, bool ddp, bool cpu) {
  if (nproc == 0) return Status::ok();
  if (nproc < 0 || nproc > kMaxNproc) {
    return Status::invalid_argument("nproc must be between 1 and " + std::to_string(kMaxNproc));
  }
  if (!ddp) return Status::invalid_argument("nproc applies to DDP tasks (DDP=True)");
  if (!cpu) {
    return Status::invalid_argument(
        "nproc applies to CPU tasks; a DDP task on GPUs runs one rank per GPU it is given");
  }
  return Status::ok();
}

std::string join_devices(const std::vector<int>& devices) {
  std::string out;
  for (int d : devices) out += (out.empty() ? "cuda:" : ",cuda:") + std::to_string(d);
  return out;
}

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

}  // namespace

TaskManager::TaskManager(TaskManagerOptions options, StateStore store, MessageLog* log)
    : options_(std::move(options)), store_(std::move(store)), log_(log) {
  simulated_ = dynamic_cast<SimulatedProbe*>(options_.probe.get());
  delay_s_ = options_.delay_s;
  settings_.max_task_per_device = options_.max_task_per_device;
  supervisor_ = std::make_unique<Supervisor>(
      [this](const std::string& id, const ExitInfo& info) {
        {
          std::lock_guard<std::mutex> lock(exits_mu_);
          exits_.push_back(Exit{id, info});
        }
        wake();
      },
      options_.terminate);
}

Result<std::unique_ptr<TaskManager>> TaskManager::open(TaskManagerOptions options,
                                                       MessageLog* log) {
  if (options.probe == nullptr) return Status::invalid_argument("TaskManager needs a device probe");
  if (options.delay_s <= 0) return Status::invalid_argument("delay must be positive");
  DLNEST_ASSIGN_OR_RETURN(StateStore store, StateStore::open(options.state_dir));
  Env* env = Env::default_env();
  DLNEST_RETURN_IF_ERROR(env->create_dirs(path::join(options.state_dir, "tasks")));
  std::unique_ptr<TaskManager> manager(new TaskManager(std::move(options), std::move(store), log));
  const std::string notice = manager->options_.probe->notice();
  if (!notice.empty()) log->add("[Devices] ", notice);
  manager->settle_previous_run();
  manager->thread_ = std::thread([m = manager.get()] { m->loop(); });
  return manager;
}

TaskManager::~TaskManager() { stop(); }

std::string TaskManager::exit_file(const std::string& id) const {
  return path::join(path::join(options_.state_dir, "tasks"), id + ".exit");
}

std::string TaskManager::output_file(const TaskRecord& task) const {
  if (task.type == TaskType::kAnalyze) {
    return path::join(path::join(options_.state_dir, "tasks"), task.id + ".out");
  }
  return path::join(task.package_dir, "_output.txt");
}

Status TaskManager::run_exp(const std::string& id, const std::string& command) {
  DLNEST_ASSIGN_OR_RETURN(TaskRecord task, store_.get(id));
  if (task.state != TaskState::kRunning) {
    return Status::failed_precondition("analysis task " + id + " is " +
                                       task_state_name(task.state) + ", not running");
  }
  return send_analyzer_command(analyzer_socket(id), command);
}

std::string TaskManager::analyzer_socket(const std::string& id) const {
  return path::join(path::join(options_.state_dir, "tasks"), id + ".sock");
}

void TaskManager::settle_previous_run() {
  auto running = store_.list(TaskState::kRunning);
  if (!running.is_ok()) {
    log_->add("[Recover] ", "cannot list running tasks: " + running.status().message());
    return;
  }
  for (const TaskRecord& task : *running) {
    const std::optional<uint64_t> ticks = process_start_ticks(task.pid);
    Status adopted = Status::not_found("process gone");
    if (ticks && *ticks == task.pid_start_ticks) {
      adopted = supervisor_->adopt(task.id, ProcessHandle{task.pid, task.pid_start_ticks},
                                   exit_file(task.id));
    }
    if (adopted.is_ok()) {
      RunningTask rt;
      rt.id = task.id;
      rt.devices = task.devices;
      rt.reserved_mb.assign(task.devices.size(), 0);
      rt.allocated = true;
      rt.start_time = task.start_time;
      std::lock_guard<std::mutex> lock(mu_);
      running_[task.id] = rt;
      if (options_.end_tasks_on_exit) {
        deleting_.insert(task.id);
        (void)supervisor_->terminate(task.id);
        log_->add("[Recover] ", task.id + " (pid " + std::to_string(task.pid) +
                                    ") was left by an earlier server: ending it");
      } else {
        log_->add("[Recover] ", task.id + " is still running (pid " + std::to_string(task.pid) +
                                    "): watching it again");
      }
      continue;
    }
    ExitInfo info;
    info.exit_code = read_exit_file(exit_file(task.id));
    info.detail = info.exit_code ? "ended while no server was running"
                                 : "its process ended while no server was running; exit code unknown";
    end_task(task, info, /*deleted=*/false);
  }
}

// ---- submissions ----

Status TaskManager::check_gpu_request(bool cpu) {
  if (cpu) return Status::ok();
  const DeviceSnapshot snapshot = probe_devices();
  if (snapshot.gpu_count() == 0) {
    return Status::failed_precondition(
        "this machine has no GPU: submit the task for the CPU (CPU=True, -CPU)");
  }
  return Status::ok();
}

Status TaskManager::check_package_free(const std::string& package_dir) {
  auto active_tasks = active();
  if (!active_tasks.is_ok()) return active_tasks.status();
  for (const TaskRecord& t : *active_tasks) {
    if (t.type == TaskType::kTrain && t.package_dir == package_dir) {
      return Status::failed_precondition("save package " + package_dir + " is in use by task " +
                                         t.id + " (" + task_state_name(t.state) +
                                         "); delete it first or wait until it ends");
    }
  }
  return Status::ok();
}

Result<TaskRecord> TaskManager::queue(TaskRecord task, const std::string& what) {
  DLNEST_ASSIGN_OR_RETURN(std::string id, store_.add_with_new_id(std::move(task)));
  DLNEST_ASSIGN_OR_RETURN(TaskRecord queued, store_.get(id));
  log_->add("[" + what + "] ", id + " queued: " + queued.package_dir +
                                   (queued.cpu ? " (CPU)" : ""));
  wake();
  return queued;
}

Status TaskManager::check_resources(const TrainResources& resources) {
  DLNEST_RETURN_IF_ERROR(check_memory(resources.memory_mb));
  if (resources.max_restarts < 0) return Status::invalid_argument("max_restarts must be >= 0");
  DLNEST_RETURN_IF_ERROR(check_nproc(resources.nproc, resources.ddp, resources.cpu));
  return check_gpu_request(resources.cpu);
}

Result<TaskRecord> TaskManager::submit_train(const TrainSubmit& submit) {
  DLNEST_RETURN_IF_ERROR(check_resources(submit.resources));
  TrainSubmission submission;
  submission.config_path = path::absolute(submit.config_path);
  submission.freq_path = submit.freq_path.empty() ? "" : path::absolute(submit.freq_path);
  submission.package.description = submit.description;
  submission.package.no_save = submit.no_save;
  submission.package.use_description = submit.use_description;
  submission.build.dlnest_cmake_dir = options_.dlnest_cmake_dir;
  std::string package_dir;
  {
    std::lock_guard<std::mutex> lock(build_mu_);
    DLNEST_ASSIGN_OR_RETURN(package_dir, create_train_package(submission));
  }
  DLNEST_ASSIGN_OR_RETURN(SavePackage package, SavePackage::open(package_dir));
  TaskRecord task = train_record(package, submit.resources);
  task.description = submit.description;
  return queue(std::move(task), "Run train");
}

Result<TaskRecord> TaskManager::submit_continue(const ContinueSubmit& submit) {
  DLNEST_RETURN_IF_ERROR(check_resources(submit.resources));
  if (submit.checkpoint_id < kLatestCheckpoint) {
    return Status::invalid_argument("checkpoint_ID must be a checkpoint id or -1 (the latest)");
  }
  const std::string dir = path::absolute(submit.record_path);
  DLNEST_ASSIGN_OR_RETURN(SavePackage package, SavePackage::open(dir));
  DLNEST_RETURN_IF_ERROR(package.checkpoint_path(static_cast<int>(submit.checkpoint_id)).status());
  DLNEST_RETURN_IF_ERROR(check_package_free(package.root()));
  TaskRecord task = train_record(package, submit.resources);
  task.description = submit.description.empty() ? package.description() : submit.description;
  task.load_ckpt = true;
  task.checkpoint_id = submit.checkpoint_id;
  return queue(std::move(task), "Continue train");
}

Result<TaskRecord> TaskManager::submit_analyze(const AnalyzeSubmit& submit) {
  DLNEST_RETURN_IF_ERROR(check_memory(submit.memory_mb));
  if (submit.checkpoint_id < -2) {
    return Status::invalid_argument(
        "checkpoint_ID must be a checkpoint id, -1 (the latest) or -2 (none)");
  }
  DLNEST_RETURN_IF_ERROR(check_gpu_request(submit.cpu));
  DLNEST_ASSIGN_OR_RETURN(SavePackage package, SavePackage::open(path::absolute(submit.record_path)));
  if (submit.checkpoint_id != -2) {
    DLNEST_RETURN_IF_ERROR(
        package.checkpoint_path(static_cast<int>(submit.checkpoint_id)).status());
  }
  const std::string scripts = submit.script_path.empty()
                                  ? path::join(package.root(), "AnalyzeScripts")
                                  : path::absolute(submit.script_path);
  if (!Env::default_env()->is_directory(scripts)) {
    return Status::not_found("analysis script folder " + scripts + " does not exist");
  }
  TaskRecord task;
  task.type = TaskType::kAnalyze;
  task.args = package.args();
  task.package_dir = package.root();
  task.script_path = scripts;
  task.description = package.description();
  task.memory_mb = submit.memory_mb;
  task.cpu = submit.cpu;
  task.load_ckpt = submit.checkpoint_id != -2;
  task.checkpoint_id = submit.checkpoint_id;
  return queue(std::move(task), "Analyze");
}

Status TaskManager::delete_task(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  DLNEST_ASSIGN_OR_RETURN(TaskRecord task, store_.get(id));
  switch (task.state) {
    case TaskState::kPending:
      DLNEST_RETURN_IF_ERROR(
          store_.mark_ended(id, TaskState::kKilled, std::nullopt, "deleted while pending"));
      log_->add("[Del task] ", id + " removed from the queue");
      return Status::ok();
    case TaskState::kRunning:
      if (deleting_.count(id) > 0) return Status::ok();  // already being ended
      DLNEST_RETURN_IF_ERROR(supervisor_->terminate(id));
      deleting_.insert(id);
      log_->add("[Del task] ", id + " (pid " + std::to_string(task.pid) + ") is being ended");
      return Status::ok();
    default:
      return Status::failed_precondition("task " + id + " has already ended (" +
                                         task_state_name(task.state) + ")");
  }
}

// ---- queries ----

Result<TaskRecord> TaskManager::get(const std::string& id) { return store_.get(id); }

Result<std::vector<TaskRecord>> TaskManager::active() {
  DLNEST_ASSIGN_OR_RETURN(std::vector<TaskRecord> tasks, store_.list(TaskState::kPending));
  DLNEST_ASSIGN_OR_RETURN(std::vector<TaskRecord> running, store_.list(TaskState::kRunning));
  tasks.insert(tasks.end(), std::make_move_iterator(running.begin()),
               std::make_move_iterator(running.end()));
  std::stable_sort(tasks.begin(), tasks.end(), [](const TaskRecord& a, const TaskRecord& b) {
    return a.submit_time < b.submit_time;
  });
  return tasks;
}

Result<std::vector<TaskRecord>> TaskManager::history(size_t limit) {
  return store_.list_ended(limit);
}

Result<int64_t> TaskManager::clear_history() { return store_.clear_finished(); }

DeviceSnapshot TaskManager::probe_devices() {
  DeviceSnapshot snapshot = options_.probe->probe();
  std::lock_guard<std::mutex> lock(mu_);
  last_snapshot_ = snapshot;
  return snapshot;
}

Json TaskManager::devices_info() {
  const DeviceSnapshot snapshot = probe_devices();
  std::map<int, std::vector<std::string>> tasks_on;
  std::map<int, double> last_use;
  std::optional<std::vector<int>> allowed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, rt] : running_) {
      for (int d : rt.devices) tasks_on[d].push_back(id);
    }
    last_use = last_use_time_;
    allowed = settings_.allowed_devices;
  }
  Json info = Json::array();
  for (const DeviceInfo& d : snapshot.devices) {
    Json entry = Json::object();
    entry["ID"] = d.index;
    entry["type"] = d.is_cpu() ? "CPU" : "GPU";
    entry["name"] = d.name;
    entry["is_break"] = d.broken;
    entry["error"] = d.error;
    Json running = Json::array();
    for (const std::string& id : tasks_on[d.index]) {
      auto task = store_.get(id);
      if (task.is_ok()) running.push_back(task_to_json(*task));
    }
    entry["num_tasks"] = running.size();
    entry["running_tasks"] = std::move(running);
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
    entry["allowed"] = d.is_cpu() || !allowed ||
                       std::find(allowed->begin(), allowed->end(), d.index) != allowed->end();
    auto lu = last_use.find(d.index);
    entry["last_use_time"] = lu == last_use.end() ? 0.0 : lu->second;
    info.push_back(std::move(entry));
  }
  return info;
}

Json TaskManager::server_info() {
  std::lock_guard<std::mutex> lock(mu_);
  Json info = Json::object();
  info["pid"] = static_cast<int>(::getpid());
  info["state_dir"] = options_.state_dir;
  info["delay"] = delay_s_;
  info["max_task_per_device"] = settings_.max_task_per_device;
  info["devices"] = settings_.allowed_devices ? Json(*settings_.allowed_devices) : Json(nullptr);
  info["simulated_gpus"] = simulated_ != nullptr;
  return info;
}

// ---- settings ----

Status TaskManager::set_delay(double seconds) {
  if (!(seconds > 0)) return Status::invalid_argument("new_delay must be a positive number of seconds");
  std::lock_guard<std::mutex> lock(mu_);
  delay_s_ = seconds;
  log_->add("[Change delay] ", "the scheduler runs every " + std::to_string(static_cast<int64_t>(seconds)) + " s");
  cv_.notify_all();
  return Status::ok();
}

Status TaskManager::set_allowed_devices(const std::vector<int64_t>& ids) {
  const DeviceSnapshot snapshot = probe_devices();
  std::vector<int> allowed;
  for (int64_t id : ids) {
    if (id == kCpuDevice) continue;
    if (id < 0 || snapshot.find(static_cast<int>(id)) == nullptr) {
      return Status::invalid_argument("new_devices_IDs: there is no device " + std::to_string(id) +
                                      " (this machine has " + std::to_string(snapshot.gpu_count()) +
                                      " GPU(s); -1 is the CPU)");
    }
    if (std::find(allowed.begin(), allowed.end(), id) == allowed.end()) {
      allowed.push_back(static_cast<int>(id));
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    settings_.allowed_devices = allowed;
  }
  log_->add("[Change devices] ", "new tasks may use GPUs " + devices_text(allowed));
  wake();
  return Status::ok();
}

Status TaskManager::set_max_task_per_device(int64_t n) {
  if (n <= 0 || n > 1000000) return Status::invalid_argument("new_max must be between 1 and 1000000");
  {
    std::lock_guard<std::mutex> lock(mu_);
    settings_.max_task_per_device = static_cast<int>(n);
  }
  log_->add("[Change max task] ", "at most " + std::to_string(n) + " tasks per GPU");
  wake();
  return Status::ok();
}

// ---- the scheduling thread ----

void TaskManager::wake() {
  std::lock_guard<std::mutex> lock(mu_);
  wake_ = true;
  cv_.notify_all();
}

void TaskManager::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    const auto delay = std::chrono::duration<double>(delay_s_);
    cv_.wait_for(lock, delay, [this] { return wake_ || stopping_; });
    if (stopping_) break;
    wake_ = false;
    lock.unlock();
    handle_exits();
    schedule_round();
    lock.lock();
  }
}

void TaskManager::handle_exits() {
  for (;;) {
    Exit exit;
    {
      std::lock_guard<std::mutex> lock(exits_mu_);
      if (exits_.empty()) return;
      exit = std::move(exits_.front());
      exits_.pop_front();
    }
    auto task = store_.get(exit.id);
    if (!task.is_ok()) continue;
    bool deleted = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_.erase(exit.id);
      deleted = deleting_.erase(exit.id) > 0;
    }
    if (simulated_ != nullptr) simulated_->remove(exit.id);
    end_task(*task, exit.info, deleted || exit.info.terminated);
  }
}

void TaskManager::end_task(const TaskRecord& task, const ExitInfo& info, bool deleted) {
  TaskState state = TaskState::kFailed;
  std::string error;
  if (deleted) {
    state = TaskState::kKilled;
    error = "deleted" + (info.detail.empty() ? "" : " (" + info.detail + ")");
  } else if (info.exit_code && *info.exit_code == 0) {
    state = TaskState::kFinished;
  } else {
    error = info.exit_code ? "exited with code " + std::to_string(*info.exit_code) : "";
    if (!info.detail.empty()) error += (error.empty() ? "" : "; ") + info.detail;
  }
  Status s = store_.mark_ended(task.id, state, info.exit_code, error);
  if (!s.is_ok()) {
    log_->add("[Error] ", "cannot record the end of " + task.id + ": " + s.message());
    return;
  }
  if (state == TaskState::kFinished) {
    log_->add("[Finished] ", task.id + " (" + task.package_dir + ")");
  } else {
    log_->add(state == TaskState::kKilled ? "[Killed] " : "[Failed] ",
              task.id + (error.empty() ? "" : ": " + error));
  }
  if (state == TaskState::kFailed && task.restarts < task.max_restarts) {
    s = store_.bump_restarts(task.id);
    if (s.is_ok()) {
      log_->add("[Restart] ", task.id + " queued again (restart " +
                                  std::to_string(task.restarts + 1) + " of " +
                                  std::to_string(task.max_restarts) +
                                  "), continuing from its latest checkpoint");
    } else {
      log_->add("[Error] ", "cannot restart " + task.id + ": " + s.message());
    }
  }
}

void TaskManager::update_allocations(const DeviceSnapshot& snapshot) {
  // Called with mu_ held.
  for (auto& [id, rt] : running_) {
    if (rt.allocated || rt.devices.empty() || rt.devices[0] == kCpuDevice) continue;
    if (simulated_ != nullptr) {
      rt.allocated = true;  // placed on the simulated GPUs when it started
      continue;
    }
    const std::vector<int> members = supervisor_->group_members(id);
    for (int d : rt.devices) {
      const DeviceInfo* gpu = snapshot.find(d);
      if (gpu == nullptr) continue;
      for (const GpuProcess& p : gpu->processes) {
        if (std::find(members.begin(), members.end(), p.pid) != members.end()) rt.allocated = true;
      }
    }
  }
}

void TaskManager::schedule_round() {
  const DeviceSnapshot snapshot = probe_devices();
  auto pending = store_.list(TaskState::kPending);
  if (!pending.is_ok()) {
    log_->add("[Error] ", "cannot read the queue: " + pending.status().message());
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return;
  update_allocations(snapshot);
  SchedulerSnapshot snap;
  for (const DeviceInfo& d : snapshot.devices) {
    if (d.is_cpu()) continue;
    snap.devices.push_back(GpuState{d.index, d.total_mb, d.free_mb, d.broken});
  }
  for (const auto& [id, rt] : running_) snap.running.push_back(rt);
  std::map<std::string, const TaskRecord*> by_id;
  for (const TaskRecord& t : *pending) {
    PendingTask p;
    p.id = t.id;
    p.estimate_mb = t.memory_mb;
    p.wants_cpu = t.cpu;
    p.multi_card = t.multi_gpu || t.ddp;
    p.ddp = t.ddp;
    p.submit_time = t.submit_time;
    snap.pending.push_back(p);
    by_id[t.id] = &t;
  }
  snap.settings = settings_;
  const double now = wall_now();
  for (const Placement& placement : scheduler_.plan(snap, now)) {
    start_task(*by_id.at(placement.task_id), placement, now);
  }
}

void TaskManager::add_device_flags(const TaskRecord& task, const std::vector<int>& devices,
                                   std::vector<std::string>& argv) const {
  // Simulated GPUs run on the CPU: a DDP task there gets one CPU rank per simulated GPU.
  const bool on_cpu = devices.empty() || devices[0] == kCpuDevice || simulated_ != nullptr;
  if (task.ddp && on_cpu) {
    const size_t ranks = devices.empty() || devices[0] == kCpuDevice
                             ? static_cast<size_t>(std::max(task.nproc, 1))
                             : devices.size();
    argv.insert(argv.end(), {"--ddp", "--nproc", std::to_string(ranks)});
  } else if (task.ddp) {
    argv.insert(argv.end(), {"--ddp", "--devices", join_devices(devices)});
  } else if (!on_cpu && devices.size() > 1) {
    argv.insert(argv.end(), {"--devices", join_devices(devices)});
  }
}

SpawnSpec TaskManager::spawn_spec(const TaskRecord& task, const std::vector<int>& devices) const {
  const bool on_cpu = devices.empty() || devices[0] == kCpuDevice;
  const std::string device =
      on_cpu || simulated_ != nullptr ? "cpu" : "cuda:" + std::to_string(devices[0]);
  SpawnSpec spec;
  spec.cwd = task.package_dir;
  spec.output_path = output_file(task);
  spec.exit_file = exit_file(task.id);
  spec.env["DLNEST_TASK_ID"] = task.id;
  std::string ids;
  for (int d : devices) ids += (ids.empty() ? "" : ",") + std::to_string(d);
  spec.env["DLNEST_DEVICES"] = ids;
  spec.argv = {options_.worker_path};
  if (task.type == TaskType::kAnalyze) {
    spec.argv.insert(spec.argv.end(),
                     {"analyze", "--package", task.package_dir, "--scripts", task.script_path,
                      "--checkpoint", std::to_string(task.checkpoint_id), "--socket",
                      analyzer_socket(task.id)});
  } else {
    spec.argv.insert(spec.argv.end(), {"train", "--package", task.package_dir});
    bool resume = task.load_ckpt;
    int64_t checkpoint = task.checkpoint_id;
    if (task.restarts > 0) {
      // A restart continues from the latest checkpoint, or starts over when there is none.
      auto package = SavePackage::open(task.package_dir);
      resume = package.is_ok() && package->checkpoint_path(-1).is_ok();
      checkpoint = kLatestCheckpoint;
    }
    if (resume) {
      spec.argv.insert(spec.argv.end(), {"--resume", "--checkpoint", std::to_string(checkpoint)});
    }
    add_device_flags(task, devices, spec.argv);
  }
  spec.argv.insert(spec.argv.end(), {"--device", device, "--exit-file", spec.exit_file});
  return spec;
}

void TaskManager::start_task(const TaskRecord& task, const Placement& placement, double now) {
  // Called with mu_ held.
  const SpawnSpec spec = spawn_spec(task, placement.devices);
  (void)Env::default_env()->remove_file(spec.exit_file);
  auto handle = supervisor_->spawn(task.id, spec);
  if (!handle.is_ok()) {
    (void)store_.mark_ended(task.id, TaskState::kFailed, std::nullopt,
                            "could not start: " + handle.status().message());
    log_->add("[Error] ", task.id + " could not start: " + handle.status().message());
    return;
  }
  Status s = store_.mark_running(task.id, handle->pid, handle->start_ticks, placement.devices);
  if (!s.is_ok()) {
    log_->add("[Error] ", "cannot record the start of " + task.id + ": " + s.message() +
                              "; ending it");
    deleting_.insert(task.id);
    (void)supervisor_->terminate(task.id);
  }
  running_[task.id] = running_task_from(placement, now);
  for (int d : placement.devices) last_use_time_[d] = now;
  if (simulated_ != nullptr) {
    for (size_t i = 0; i < placement.devices.size(); ++i) {
      if (placement.devices[i] != kCpuDevice) {
        (void)simulated_->place(task.id, placement.devices[i], placement.reserved_mb[i],
                                handle->pid);
      }
    }
  }
  log_->add("[Start task] ", task.id + " on devices " + devices_text(placement.devices) +
                                 ", pid " + std::to_string(handle->pid));
}

void TaskManager::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  if (options_.end_tasks_on_exit) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [id, rt] : running_) deleting_.insert(id);
    }
    supervisor_->terminate_all_and_wait();
    handle_exits();
  } else {
    supervisor_->detach();
  }
}

}  // namespace dlnest
