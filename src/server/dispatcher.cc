#include "server/dispatcher.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "analyzer/command_channel.h"
#include "dlnest/env.h"
#include "dlnest/save_package.h"
#include "env/regular_file.h"
#include "server/memory_sampler.h"

namespace dlnest {
namespace {

static_assert(kCpuPlacement == kCpuDevice, "the scheduler and the probe number the CPU alike");

/// Short files the server reads back from its task folder (exit codes, build errors).
constexpr size_t kMaxSmallFile = 4096;

double system_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string devices_text(const std::vector<int>& devices) {
  std::string out = "[";
  for (size_t i = 0; i < devices.size(); ++i)
    out += (i > 0 ? ", " : "") + std::to_string(devices[i]);
  return out + "]";
}

/// The first kMaxSmallFile bytes of a regular file, opened as every file a task controls is;
/// "" when it is missing or anything else.
std::string read_small_file(const std::string& path) {
  Result<UniqueFd> fd = open_regular_file(path, O_RDONLY);
  if (!fd.is_ok()) return "";
  std::string text(kMaxSmallFile, '\0');
  const ssize_t n = ::read(fd->get(), text.data(), text.size());
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return text;
}

std::string first_line(const std::string& text) {
  const size_t end = text.find('\n');
  return end == std::string::npos ? text : text.substr(0, end);
}

bool package_has_checkpoint(const std::string& dir) {
  auto package = SavePackage::open(dir);
  return package.is_ok() && package->checkpoint_path(-1).is_ok();
}

PendingTask pending_from(const TaskRecord& t) {
  PendingTask p;
  p.id = t.id;
  p.estimate_mb = t.memory_mb;
  p.wants_cpu = t.cpu;
  p.multi_card = t.multi_gpu || t.ddp;
  p.ddp = t.ddp;
  p.submit_time = t.submit_time;
  return p;
}

}  // namespace

Dispatcher::Dispatcher(DispatcherOptions options, StateStore* store, DeviceProbe* probe,
                       TaskRunner* runner, MessageLog* log)
    : options_(std::move(options)),
      files_(options_.tasks_dir),
      store_(store),
      probe_(probe),
      runner_(runner),
      log_(log),
      delay_s_(options_.delay_s) {
  settings_.max_task_per_device = options_.max_task_per_device;
  runner_->on_exit([this](const std::string& id, const ExitInfo& info) {
    {
      std::lock_guard<std::mutex> lock(exits_mu_);
      exits_.push_back(Exit{id, info});
    }
    wake();
  });
}

Dispatcher::~Dispatcher() {
  stop();
}

double Dispatcher::now() const {
  return options_.clock ? options_.clock() : system_now();
}

// ---- recovery ----

void Dispatcher::recover() {
  for (TaskState state : {TaskState::kBuilding, TaskState::kRunning}) {
    auto tasks = store_->list(state);
    if (!tasks.is_ok()) {
      log_->add("[Recover] ", "cannot list the tasks: " + tasks.status().message());
      continue;
    }
    for (const TaskRecord& task : *tasks) settle(task);
  }
}

void Dispatcher::settle(const TaskRecord& task) {
  const ProcessHandle handle{task.pid, task.pid_start_ticks};
  const bool alive =
      task.pid > 0 && runner_->adopt(task.id, handle, files_.exit_file(task.id)).is_ok();
  if (!alive) {
    const ExitInfo exit = exit_found_after_restart(read_exit_file(files_.exit_file(task.id)));
    apply_end(task, decide_end(task, exit, end_reason(task)), exit.exit_code);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (task.state == TaskState::kBuilding) {
      building_[task.id] = task.project_dir;
    } else {
      RunningTask rt;
      rt.id = task.id;
      rt.devices = task.devices;
      rt.reserved_mb.assign(task.devices.size(), 0);
      rt.allocated = true;
      rt.start_time = task.start_time;
      running_[task.id] = rt;
    }
  }
  const std::string pid = " (pid " + std::to_string(task.pid) + ")";
  if (task.delete_requested || options_.end_tasks_on_exit) {
    if (!task.delete_requested) (void)store_->request_delete(task.id);
    (void)runner_->terminate(task.id);
    log_->add("[Recover] ", task.id + pid + " was left by an earlier server: ending it");
  } else {
    log_->add("[Recover] ",
              task.id + " is still " + task_state_name(task.state) + pid + ": watching it again");
  }
}

// ---- the loop ----

void Dispatcher::start() {
  thread_ = std::thread([this] { loop(); });
}

void Dispatcher::wake() {
  std::lock_guard<std::mutex> lock(mu_);
  wake_ = true;
  cv_.notify_all();
}

void Dispatcher::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::duration<double>(delay_s_),
                 [this] { return wake_ || stopping_; });
    if (stopping_) break;
    wake_ = false;
    lock.unlock();
    run_once();
    lock.lock();
  }
}

void Dispatcher::run_once() {
  handle_exits();
  start_builds();
  schedule_round();
}

void Dispatcher::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  if (!options_.end_tasks_on_exit) {
    runner_->detach();
    return;
  }
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, rt] : running_) ids.push_back(id);
    for (const auto& [id, project] : building_) ids.push_back(id);
  }
  for (const std::string& id : ids) (void)store_->request_delete(id);
  runner_->terminate_all_and_wait();
  handle_exits();
}

// ---- exits ----

std::string Dispatcher::end_reason(const TaskRecord& task) const {
  if (task.state != TaskState::kBuilding) {
    return failure_reason_in_file(task_output_file(task, files_));
  }
  return first_line(read_small_file(files_.build_error_file(task.id)));
}

void Dispatcher::handle_exits() {
  for (;;) {
    Exit exit;
    {
      std::lock_guard<std::mutex> lock(exits_mu_);
      if (exits_.empty()) return;
      exit = std::move(exits_.front());
      exits_.pop_front();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_.erase(exit.id);
      building_.erase(exit.id);
    }
    auto task = store_->get(exit.id);
    // A process given up before it was recorded leaves its task Pending (or Killed): nothing to do.
    if (!task.is_ok() ||
        (task->state != TaskState::kBuilding && task->state != TaskState::kRunning)) {
      continue;
    }
    apply_end(*task, decide_end(*task, exit.info, end_reason(*task)), exit.info.exit_code);
  }
}

void Dispatcher::apply_end(const TaskRecord& task, const TaskEnd& end,
                           std::optional<int> exit_code) {
  if (end.kind == TaskEnd::Kind::kRequeue) {
    Status s = store_->requeue(task.id, end.built);
    if (!s.is_ok()) log_->add("[Error] ", "cannot queue " + task.id + " again: " + s.message());
    log_->add(
        end.built ? "[Built] " : "[Requeue] ",
        task.id + (end.built ? " is built; waiting for devices" : " never started; queued again"));
    return;
  }
  Status s = store_->mark_ended(task.id, end.state, exit_code, end.error);
  if (!s.is_ok()) {
    log_->add("[Error] ", "cannot record the end of " + task.id + ": " + s.message());
    return;
  }
  // The package's record of the measured GPU memory gets the end too.
  s = write_package_memory(store_, task.id);
  if (!s.is_ok()) {
    log_->add("[Warning] ",
              "cannot record the GPU memory of " + task.id + " in its package: " + s.message());
  }
  if (!end.restart) {
    // An analysis task's socket and the commands that never reached it end with the task.
    (void)Env::default_env()->remove_file(files_.analyzer_socket(task.id));
    (void)Env::default_env()->remove_file(command_spool_path(files_.analyzer_socket(task.id)));
  }
  if (end.state == TaskState::kFinished) {
    log_->add("[Finished] ", task.id + " (" + task.package_dir + ")");
  } else {
    log_->add(end.state == TaskState::kKilled ? "[Killed] " : "[Failed] ",
              task.id + (end.error.empty() ? "" : ": " + end.error));
  }
  if (!end.restart) return;
  s = store_->bump_restarts(task.id);
  if (!s.is_ok()) {
    log_->add("[Error] ", "cannot restart " + task.id + ": " + s.message());
    return;
  }
  log_->add("[Restart] ", task.id + " queued again (restart " + std::to_string(task.restarts + 1) +
                              " of " + std::to_string(task.max_restarts) +
                              "), continuing from its latest checkpoint");
}

// ---- starting ----

bool Dispatcher::launch(const TaskRecord& task, const SpawnSpec& spec, const RecordStart& record) {
  Env* env = Env::default_env();
  (void)env->remove_file(spec.exit_file);
  (void)env->remove_file(files_.build_error_file(task.id));
  auto handle = runner_->spawn(task.id, spec);
  if (!handle.is_ok()) {
    (void)store_->mark_ended(task.id, TaskState::kFailed, std::nullopt,
                             "could not start: " + handle.status().message());
    log_->add("[Error] ", task.id + " could not start: " + handle.status().message());
    return false;
  }
  Status s = record(*handle);
  if (!s.is_ok()) {
    // Never released: it exits without running anything.
    runner_->abandon(task.id);
    log_->add("[Error] ", "cannot record the start of " + task.id + ": " + s.message());
    return false;
  }
  s = runner_->release(task.id);
  if (!s.is_ok()) log_->add("[Error] ", task.id + " could not start: " + s.message());
  return true;
}

void Dispatcher::start_builds() {
  auto pending = store_->list(TaskState::kPending);
  if (!pending.is_ok()) return;
  std::vector<const TaskRecord*> chosen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    for (const TaskRecord& t : *pending) {
      if (!t.needs_build) continue;
      if (building_.size() >= static_cast<size_t>(std::max(options_.max_parallel_builds, 1))) break;
      const bool project_busy = std::any_of(building_.begin(), building_.end(), [&](const auto& b) {
        return b.second == t.project_dir;
      });
      if (project_busy) continue;  // one build per project at a time
      building_[t.id] = t.project_dir;
      chosen.push_back(&t);
    }
  }
  for (const TaskRecord* t : chosen) {
    const bool started = launch(
        *t, build_spec(*t, options_.launch, files_),
        [&](const ProcessHandle& h) { return store_->mark_building(t->id, h.pid, h.start_ticks); });
    if (started) {
      log_->add("[Build] ", t->id + " is building " + t->project_dir);
    } else {
      std::lock_guard<std::mutex> lock(mu_);
      building_.erase(t->id);
    }
  }
}

void Dispatcher::mark_allocations(const DeviceSnapshot& snapshot) {
  std::vector<std::string> waiting;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, rt] : running_) {
      if (!rt.allocated && !rt.devices.empty() && rt.devices[0] != kCpuDevice)
        waiting.push_back(id);
    }
  }
  for (const std::string& id : waiting) {
    const std::vector<int> pids = runner_->task_pids(id);  // reads /proc: no lock held
    bool allocated = false;
    for (const DeviceInfo& gpu : snapshot.devices) {
      for (const GpuProcess& p : gpu.processes) {
        allocated = allocated || std::find(pids.begin(), pids.end(), p.pid) != pids.end();
      }
    }
    if (!allocated) continue;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = running_.find(id);
    if (it != running_.end()) it->second.allocated = true;
  }
}

void Dispatcher::schedule_round() {
  auto pending = store_->list(TaskState::kPending);
  if (!pending.is_ok()) {
    log_->add("[Error] ", "cannot read the queue: " + pending.status().message());
    return;
  }
  // The machine-wide lock spans measuring, planning and publishing the new reservations, so
  // that another server's round sees either none of them or all of them with their memory.
  ReservationLedger* ledger = options_.ledger;
  const Status locked = ledger != nullptr ? ledger->lock() : Status::ok();
  const DeviceSnapshot snapshot = probe_devices();
  mark_allocations(snapshot);
  const double time = now();
  const ReservedMb others = ledger != nullptr ? ledger->others(time) : ReservedMb{};
  std::vector<GpuState> devices;
  for (const DeviceInfo& d : snapshot.devices) {
    if (d.is_cpu()) continue;
    const auto reserved = others.find(d.index);
    const int64_t free_mb =
        std::max<int64_t>(0, d.free_mb - (reserved == others.end() ? 0 : reserved->second));
    devices.push_back(GpuState{d.index, d.total_mb, free_mb, d.broken});
  }
  std::vector<Reservation> mine;
  const std::vector<Placement> placements = plan_round(devices, *pending, time, &mine);
  if (ledger != nullptr) {
    const Status published = ledger->publish(mine);
    ledger->unlock();
    note_ledger(locked.is_ok() ? published : locked);
  }
  for (const Placement& p : placements) {
    const TaskRecord& task = *std::find_if(pending->begin(), pending->end(),
                                           [&](const TaskRecord& t) { return t.id == p.task_id; });
    const bool has_checkpoint = task.restarts > 0 && package_has_checkpoint(task.package_dir);
    const SpawnSpec spec =
        worker_spec(task, p.devices, p.reserved_mb, has_checkpoint, options_.launch, files_);
    const bool started = launch(task, spec, [&](const ProcessHandle& h) {
      return store_->mark_running(task.id, h.pid, h.start_ticks, p.devices);
    });
    if (started) {
      log_->add("[Start task] ", task.id + " on devices " + devices_text(p.devices));
    } else {
      std::lock_guard<std::mutex> lock(mu_);
      running_.erase(task.id);
    }
  }
}

std::vector<Placement> Dispatcher::plan_round(const std::vector<GpuState>& devices,
                                              const std::vector<TaskRecord>& pending,
                                              double time, std::vector<Reservation>* reservations) {
  SchedulerSnapshot snap;
  snap.devices = devices;
  for (const TaskRecord& t : pending) {
    if (!t.needs_build) snap.pending.push_back(pending_from(t));
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Placement> placements;
  if (stopping_) return placements;
  for (const auto& [id, rt] : running_) snap.running.push_back(rt);
  snap.settings = settings_;
  placements = scheduler_.plan(snap, time);
  for (const Placement& p : placements) {
    running_[p.task_id] = running_task_from(p, time);  // reserved from now on
    for (int d : p.devices) last_use_time_[d] = time;
  }
  *reservations = own_reservations(time);
  return placements;
}

std::vector<Reservation> Dispatcher::own_reservations(double time) const {
  std::vector<Reservation> out;
  for (const auto& [id, rt] : running_) {
    const double expires_at = rt.start_time + settings_.allocation_timeout_s;
    if (rt.allocated || expires_at <= time) continue;
    for (size_t i = 0; i < rt.devices.size() && i < rt.reserved_mb.size(); ++i) {
      if (rt.devices[i] != kCpuDevice && rt.reserved_mb[i] > 0) {
        out.push_back(Reservation{rt.devices[i], rt.reserved_mb[i], id, expires_at});
      }
    }
  }
  return out;
}

void Dispatcher::note_ledger(const Status& status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string problem = status.is_ok() ? "" : status.message();
    if (problem == ledger_problem_) return;
    ledger_problem_ = problem;
  }
  if (!status.is_ok()) {
    log_->add("[Warning] ", status.message() + "; scheduling goes on without it");
  }
}

// ---- deletes ----

Status Dispatcher::delete_task(const std::string& id) {
  DLNEST_ASSIGN_OR_RETURN(TaskState was, store_->request_delete(id));
  if (was == TaskState::kPending) {
    log_->add("[Del task] ", id + " removed from the queue");
    return Status::ok();
  }
  // Recorded: whatever happens now, the task ends Killed. A process already gone is fine (its
  // exit is on its way).
  (void)runner_->terminate(id);
  log_->add("[Del task] ", id + " is being ended");
  return Status::ok();
}

// ---- settings and views ----

Status Dispatcher::set_delay(double seconds) {
  if (!(seconds > 0))
    return Status::invalid_argument("new_delay must be a positive number of seconds");
  {
    std::lock_guard<std::mutex> lock(mu_);
    delay_s_ = seconds;
    cv_.notify_all();
  }
  log_->add("[Change delay] ",
            "the scheduler runs every " + std::to_string(static_cast<int64_t>(seconds)) + " s");
  return Status::ok();
}

Status Dispatcher::set_allowed_devices(const std::vector<int64_t>& ids) {
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

Status Dispatcher::set_max_task_per_device(int64_t n) {
  if (n <= 0 || n > 1000000)
    return Status::invalid_argument("new_max must be between 1 and 1000000");
  {
    std::lock_guard<std::mutex> lock(mu_);
    settings_.max_task_per_device = static_cast<int>(n);
  }
  log_->add("[Change max task] ", "at most " + std::to_string(n) + " tasks per GPU");
  wake();
  return Status::ok();
}

double Dispatcher::delay() const {
  std::lock_guard<std::mutex> lock(mu_);
  return delay_s_;
}

SchedulerSettings Dispatcher::settings() const {
  std::lock_guard<std::mutex> lock(mu_);
  return settings_;
}

DeviceSnapshot Dispatcher::probe_devices() {
  return probe_->probe();
}

std::map<int, std::vector<std::string>> Dispatcher::tasks_by_device() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<int, std::vector<std::string>> on;
  for (const auto& [id, rt] : running_) {
    for (int d : rt.devices) on[d].push_back(id);
  }
  return on;
}

std::map<int, double> Dispatcher::last_use_times() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_use_time_;
}

}  // namespace dlnest
