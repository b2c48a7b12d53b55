#include "server/memory_sampler.h"

#include <chrono>
#include <vector>

#include "dlnest/env.h"
#include "env/path.h"

namespace dlnest {

Status write_package_memory(StateStore* store, const std::string& id) {
  // One writer at a time, each writing what the database holds when it writes: the sampler's
  // and the end of the task's writes cannot leave an older state behind.
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  DLNEST_ASSIGN_OR_RETURN(TaskRecord task, store->get(id));
  if (task.type != TaskType::kTrain || task.peak_memory_mb <= 0 || task.package_dir.empty()) {
    return Status::ok();
  }
  const Json record = {{"task_ID", task.id},
                       {"status", task_state_name(task.state)},
                       {"peak_memory_mb", task.peak_memory_mb},
                       {"memory_consumption", task.memory_mb},
                       {"memory_source", task.memory_source},
                       {"devices", task.devices}};
  return write_file_atomically(Env::default_env(), path::join(task.package_dir, kPackageMemoryFile),
                               record.dump(2) + "\n");
}

MemorySampler::MemorySampler(StateStore* store, DeviceProbe* probe, TaskRunner* runner,
                             MessageLog* log, double interval_s)
    : store_(store), probe_(probe), runner_(runner), log_(log), interval_s_(interval_s) {}

MemorySampler::~MemorySampler() {
  stop();
}

void MemorySampler::start() {
  thread_ = std::thread([this] { loop(); });
}

void MemorySampler::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void MemorySampler::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::duration<double>(interval_s_), [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    sample_once();
    lock.lock();
  }
}

void MemorySampler::sample_once() {
  Result<std::vector<TaskRecord>> running = store_->list(TaskState::kRunning);
  if (!running.is_ok()) return;
  std::vector<const TaskRecord*> on_gpus;
  for (const TaskRecord& task : *running) {
    if (!task.cpu) on_gpus.push_back(&task);
  }
  if (on_gpus.empty()) return;
  const std::vector<ProcessMemoryUse> uses = probe_->process_memory();
  for (const TaskRecord* task : on_gpus) {
    const int64_t mb = memory_of_processes(uses, runner_->task_pids(task->id));
    if (mb <= task->peak_memory_mb) continue;
    Result<bool> raised = store_->raise_peak_memory(task->id, mb);
    if (!raised.is_ok() || !*raised) continue;
    const Status written = write_package_memory(store_, task->id);
    if (!written.is_ok()) {
      log_->add("[Warning] ", "cannot record the GPU memory of " + task->id +
                                  " in its package: " + written.message());
    }
  }
}

}  // namespace dlnest
