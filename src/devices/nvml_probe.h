// The device probe for real GPUs, through NVML loaded at run time.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "devices/device_probe.h"
#include "devices/nvml_library.h"

namespace dlnest {

/// Reads the GPUs through NVML (dlopen, so the binary needs no CUDA). Without a usable NVML
/// (no library, missing symbols, nvmlInit failing) it reports the CPU only and says why in
/// notice(). A GPU whose query fails is reported broken with NVML's error text and is queried
/// again at the next probe.
class NvmlProbe : public DeviceProbe {
 public:
  /// Loads NVML from `library` (a file name searched like any shared library, or a path; tests
  /// give a fake NVML here) and initialises it once; nvmlShutdown runs at destruction.
  explicit NvmlProbe(const std::string& library = kNvmlLibrary);

  DeviceSnapshot probe() override;
  std::string notice() const override { return notice_; }
  /// Only the process query of each GPU (no memory or utilisation query); a GPU whose query
  /// fails is left out.
  std::vector<ProcessMemoryUse> process_memory() override;

 private:
  DeviceInfo read_gpu(unsigned index) const;
  void read_activity(nvml::Device device, DeviceInfo* info) const;
  nvml::Return read_processes(nvml::Device device, std::vector<GpuProcess>* processes) const;

  std::unique_ptr<NvmlLibrary> nvml_;  // null: CPU only
  std::string notice_;
  std::mutex mu_;
  unsigned last_count_ = 0;  // GPUs seen at the last successful count, guarded by mu_
};

}  // namespace dlnest
