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

DeviceInfo cpu_device() {
  DeviceInfo cpu;
  cpu.index = kCpuDevice;
  cpu.name = "CPU";
  return cpu;
}

}  // namespace dlnest
