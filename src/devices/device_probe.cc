#include "devices/device_probe.h"

#include <algorithm>

namespace dlnest {

const DeviceInfo* DeviceSnapshot::find(int index) const {
  auto it = std::find_if(devices.begin(), devices.end(),
                         [index](const DeviceInfo& d) { return d.index == index; });
  return it == devices.end() ? nullptr : &*it;
}

int DeviceSnapshot::gpu_count() const {
  return static_cast<int>(std::count_if(devices.begin(), devices.end(),
                                        [](const DeviceInfo& d) { return !d.is_cpu(); }));
}

std::int64_t memory_of_processes(const std::vector<ProcessMemoryUse>& uses,
                                 const std::vector<int>& pids) {
  std::int64_t sum = 0;
  for (const ProcessMemoryUse& use : uses) {
    if (use.used_mb > 0 && std::find(pids.begin(), pids.end(), use.pid) != pids.end()) {
      sum += use.used_mb;
    }
  }
  return sum;
}

std::vector<ProcessMemoryUse> DeviceProbe::process_memory() {
  std::vector<ProcessMemoryUse> uses;
  for (const DeviceInfo& device : probe().devices) {
    if (device.is_cpu() || device.broken) continue;
    for (const GpuProcess& process : device.processes) {
      if (process.used_mb >= 0) uses.push_back({device.index, process.pid, process.used_mb});
    }
  }
  return uses;
}

DeviceInfo cpu_device() {
  DeviceInfo cpu;
  cpu.index = kCpuDevice;
  cpu.name = "CPU";
  return cpu;
}

}  // namespace dlnest
