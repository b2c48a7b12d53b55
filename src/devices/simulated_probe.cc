#include "devices/simulated_probe.h"

#include <algorithm>
#include <utility>

namespace dlnest {

namespace {

std::string gpu_name(int index) {
  return "GPU " + std::to_string(index);
}

}  // namespace

std::int64_t SimulatedProbe::Gpu::used_mb() const {
  std::int64_t used = 0;
  for (const Holding& holding : holdings) used += holding.mb;
  return used;
}

SimulatedProbe::SimulatedProbe(std::vector<std::int64_t> totals_mb) {
  for (std::int64_t total : totals_mb) {
    Gpu gpu;
    gpu.total_mb = total;
    gpus_.push_back(std::move(gpu));
  }
}

SimulatedProbe::SimulatedProbe(std::vector<std::int64_t> totals_mb, SimulatedMachine machine)
    : SimulatedProbe(std::move(totals_mb)) {
  machine_ = std::move(machine);
}

DeviceSnapshot SimulatedProbe::probe() {
  DeviceSnapshot snapshot;
  snapshot.devices.push_back(cpu_device());
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Gpu> gpus = gpus_;
  if (machine_) read_shared(&gpus);
  for (int i = 0; i < static_cast<int>(gpus.size()); ++i) {
    snapshot.devices.push_back(describe(i, gpus[i]));
  }
  return snapshot;
}

void SimulatedProbe::read_shared(std::vector<Gpu>* gpus) const {
  for (Gpu& gpu : *gpus) gpu.holdings.clear();
  for (const SharedHolding& h : machine_->holdings(simulated_machine_now())) {
    if (h.visible && h.gpu >= 0 && h.gpu < static_cast<int>(gpus->size())) {
      (*gpus)[h.gpu].holdings.push_back({h.task_id, h.mb, h.pid});
    }
  }
}

std::string SimulatedProbe::notice() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string notice = "simulated GPUs, not real hardware:";
  for (std::size_t i = 0; i < gpus_.size(); ++i) {
    notice += (i == 0 ? " " : ", ") + std::to_string(gpus_[i].total_mb) + " MB";
  }
  return gpus_.empty() ? notice + " none (CPU only)" : notice;
}

DeviceInfo SimulatedProbe::describe(int index, const Gpu& gpu) {
  DeviceInfo info;
  info.index = index;
  info.name = "Simulated GPU " + std::to_string(gpu.total_mb) + " MB";
  if (gpu.broken) {
    info.broken = true;
    info.error = gpu.error;
    return info;
  }
  info.total_mb = gpu.total_mb;
  info.used_mb = gpu.used_mb();
  info.free_mb = std::max<std::int64_t>(0, gpu.total_mb - info.used_mb);
  info.gpu_util = gpu.gpu_util;
  info.memory_util = gpu.memory_util;
  for (const Holding& holding : gpu.holdings) {
    info.processes.push_back({holding.pid, holding.mb});
  }
  return info;
}

Status SimulatedProbe::place(const std::string& task_id, int gpu, std::int64_t mb, int pid) {
  std::lock_guard<std::mutex> lock(mu_);
  DLNEST_RETURN_IF_ERROR(check_index(gpu));
  if (mb < 0) {
    return Status::invalid_argument("task " + task_id + " cannot hold " + std::to_string(mb) +
                                    " MB on " + gpu_name(gpu));
  }
  Gpu& target = gpus_[gpu];
  if (target.broken) {
    return Status::failed_precondition(gpu_name(gpu) + " is broken: " + target.error);
  }
  if (machine_) return machine_->place(task_id, gpu, mb, pid);
  auto held = std::find_if(target.holdings.begin(), target.holdings.end(),
                           [&](const Holding& p) { return p.task_id == task_id; });
  const std::int64_t already = held == target.holdings.end() ? 0 : held->mb;
  const std::int64_t free_mb = target.total_mb - target.used_mb() + already;
  if (mb > free_mb) {
    return Status::failed_precondition("out of memory: task " + task_id + " asks " +
                                       std::to_string(mb) + " MB on " + gpu_name(gpu) +
                                       ", which has " + std::to_string(free_mb) + " MB free");
  }
  if (held == target.holdings.end()) {
    target.holdings.push_back({task_id, mb, pid});
  } else {
    *held = {task_id, mb, pid};
  }
  return Status::ok();
}

void SimulatedProbe::remove(const std::string& task_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (machine_) machine_->remove(task_id);
  for (Gpu& gpu : gpus_) {
    auto& holdings = gpu.holdings;
    holdings.erase(std::remove_if(holdings.begin(), holdings.end(),
                                    [&](const Holding& p) { return p.task_id == task_id; }),
                     holdings.end());
  }
}

Status SimulatedProbe::set_broken(int gpu, bool broken, std::string error) {
  std::lock_guard<std::mutex> lock(mu_);
  DLNEST_RETURN_IF_ERROR(check_index(gpu));
  gpus_[gpu].broken = broken;
  gpus_[gpu].error = broken ? std::move(error) : std::string();
  return Status::ok();
}

Status SimulatedProbe::set_utilisation(int gpu, int gpu_percent, int memory_percent) {
  std::lock_guard<std::mutex> lock(mu_);
  DLNEST_RETURN_IF_ERROR(check_index(gpu));
  auto percent = [](int value) { return value >= 0 && value <= 100; };
  if (!percent(gpu_percent) || !percent(memory_percent)) {
    return Status::invalid_argument(
        "utilisation of " + gpu_name(gpu) + " must be 0 to 100 percent, got " +
        std::to_string(gpu_percent) + " and " + std::to_string(memory_percent));
  }
  gpus_[gpu].gpu_util = gpu_percent;
  gpus_[gpu].memory_util = memory_percent;
  return Status::ok();
}

Status SimulatedProbe::check_index(int gpu) const {
  if (gpu >= 0 && gpu < static_cast<int>(gpus_.size())) return Status::ok();
  return Status::invalid_argument("no simulated " + gpu_name(gpu) + " (there are " +
                                  std::to_string(gpus_.size()) + ")");
}

}  // namespace dlnest
