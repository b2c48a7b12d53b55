#include "devices/nvml_probe.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace dlnest {

namespace {

constexpr unsigned long long kBytesPerMb = 1024ULL * 1024ULL;
/// Fill attempts for the process query, whose list may grow between sizing and filling.
constexpr int kProcessQueryAttempts = 3;
/// Extra records allocated for processes that start between sizing and filling.
constexpr unsigned kProcessSlack = 4;

std::int64_t to_mb(unsigned long long bytes) {
  return static_cast<std::int64_t>(bytes / kBytesPerMb);
}

/// Errors that mean "this GPU does not report that", not "this GPU is unwell".
bool no_data(nvml::Return result) {
  return result == nvml::kErrorNotSupported || result == nvml::kErrorNoPermission;
}

void mark_broken(DeviceInfo* info, std::string error) {
  info->broken = true;
  info->error = std::move(error);
  info->total_mb = info->free_mb = info->used_mb = 0;
  info->gpu_util = info->memory_util = 0;
  info->processes.clear();
}

/// Runs NVML's count-then-fill protocol for the compute processes on `device`: ask with count 0
/// for the size, then fill a buffer of that size (plus slack), again if the list grew meanwhile.
template <typename Record>
nvml::Return query_processes(nvml::GetProcessesFn query, nvml::Device device,
                             std::vector<GpuProcess>* processes) {
  std::vector<Record> records;
  unsigned count = 0;
  nvml::Return result = query(device, &count, nullptr);
  for (int attempt = 0; result == nvml::kErrorInsufficientSize && attempt < kProcessQueryAttempts;
       ++attempt) {
    records.resize(count + kProcessSlack);
    count = static_cast<unsigned>(records.size());
    result = query(device, &count, records.data());
  }
  if (result != nvml::kSuccess) return result;
  records.resize(std::min<std::size_t>(count, records.size()));
  for (const Record& record : records) {
    const bool known = record.used_gpu_memory != nvml::kValueNotAvailable;
    processes->push_back(
        {static_cast<int>(record.pid), known ? to_mb(record.used_gpu_memory) : -1});
  }
  return nvml::kSuccess;
}

DeviceInfo unnamed_gpu(unsigned index) {
  DeviceInfo info;
  info.index = static_cast<int>(index);
  info.name = "GPU " + std::to_string(index);
  return info;
}

}  // namespace

NvmlProbe::NvmlProbe(const std::string& library) {
  Result<std::unique_ptr<NvmlLibrary>> opened = NvmlLibrary::open(library);
  if (opened.is_ok()) {
    nvml_ = std::move(opened).value();
  } else {
    notice_ = "no GPU: " + opened.status().message() + "; using the CPU only";
  }
}

DeviceSnapshot NvmlProbe::probe() {
  DeviceSnapshot snapshot;
  snapshot.devices.push_back(cpu_device());
  if (nvml_ == nullptr) return snapshot;
  std::lock_guard<std::mutex> lock(mu_);
  unsigned count = 0;
  const nvml::Return result = nvml_->functions().get_count(&count);
  if (result != nvml::kSuccess) {
    // The GPUs seen before are still in the machine; the driver cannot say how they are.
    for (unsigned i = 0; i < last_count_; ++i) {
      DeviceInfo gpu = unnamed_gpu(i);
      mark_broken(&gpu, nvml_->error("nvmlDeviceGetCount_v2", result));
      snapshot.devices.push_back(std::move(gpu));
    }
    return snapshot;
  }
  last_count_ = count;
  for (unsigned i = 0; i < count; ++i) snapshot.devices.push_back(read_gpu(i));
  return snapshot;
}

DeviceInfo NvmlProbe::read_gpu(unsigned index) const {
  const NvmlFunctions& f = nvml_->functions();
  DeviceInfo info = unnamed_gpu(index);
  nvml::Device device = nullptr;
  nvml::Return result = f.get_handle(index, &device);
  if (result != nvml::kSuccess) {
    mark_broken(&info, nvml_->error("nvmlDeviceGetHandleByIndex_v2", result));
    return info;
  }
  char name[nvml::kNameBufferSize] = {};
  if (f.get_name(device, name, sizeof name - 1) == nvml::kSuccess) info.name = name;
  nvml::Memory memory{};
  result = f.get_memory(device, &memory);
  if (result != nvml::kSuccess) {
    mark_broken(&info, nvml_->error("nvmlDeviceGetMemoryInfo", result));
    return info;
  }
  info.total_mb = to_mb(memory.total);
  info.free_mb = to_mb(memory.free);
  info.used_mb = to_mb(memory.used);
  read_activity(device, &info);
  return info;
}

void NvmlProbe::read_activity(nvml::Device device, DeviceInfo* info) const {
  const NvmlFunctions& f = nvml_->functions();
  nvml::Utilization utilization{};
  nvml::Return result = f.get_utilization(device, &utilization);
  if (result == nvml::kSuccess) {
    info->gpu_util = static_cast<int>(utilization.gpu);
    info->memory_util = static_cast<int>(utilization.memory);
  } else if (!no_data(result)) {
    mark_broken(info, nvml_->error("nvmlDeviceGetUtilizationRates", result));
    return;
  }
  if (f.get_processes == nullptr) return;
  result = read_processes(device, &info->processes);
  if (result != nvml::kSuccess && !no_data(result)) {
    mark_broken(info, nvml_->error(f.processes_symbol, result));
  }
}

nvml::Return NvmlProbe::read_processes(nvml::Device device,
                                       std::vector<GpuProcess>* processes) const {
  const NvmlFunctions& f = nvml_->functions();
  return f.processes_fill_v2
             ? query_processes<nvml::ProcessInfoV2>(f.get_processes, device, processes)
             : query_processes<nvml::ProcessInfoV1>(f.get_processes, device, processes);
}

std::vector<ProcessMemoryUse> NvmlProbe::process_memory() {
  std::vector<ProcessMemoryUse> uses;
  if (nvml_ == nullptr || nvml_->functions().get_processes == nullptr) return uses;
  std::lock_guard<std::mutex> lock(mu_);
  const NvmlFunctions& f = nvml_->functions();
  unsigned count = 0;
  if (f.get_count(&count) != nvml::kSuccess) return uses;
  for (unsigned i = 0; i < count; ++i) {
    nvml::Device device = nullptr;
    if (f.get_handle(i, &device) != nvml::kSuccess) continue;
    std::vector<GpuProcess> processes;
    if (read_processes(device, &processes) != nvml::kSuccess) continue;
    for (const GpuProcess& p : processes) {
      if (p.used_mb >= 0) uses.push_back({static_cast<int>(i), p.pid, p.used_mb});
    }
  }
  return uses;
}

}  // namespace dlnest
