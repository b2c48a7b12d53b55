// What the scheduler knows about the devices: a snapshot of every GPU and the CPU.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dlnest {

/// The device index of the CPU; GPUs are numbered from 0 as NVML numbers them.
constexpr int kCpuDevice = -1;

/// A process that holds memory on a GPU.
struct GpuProcess {
  int pid = 0;
  std::int64_t used_mb = 0;  ///< -1 when the driver cannot tell (no permission, some platforms)
};

/// One device as seen by one probe. Memory is in MB (MiB, as nvidia-smi reports it).
struct DeviceInfo {
  int index = kCpuDevice;
  std::string name;
  std::int64_t total_mb = 0;  ///< 0 for the CPU and for a broken GPU
  std::int64_t free_mb = 0;
  std::int64_t used_mb = 0;
  int gpu_util = 0;     ///< percent of time a kernel ran over the last sample period
  int memory_util = 0;  ///< percent of time device memory was read or written
  std::vector<GpuProcess> processes;
  bool broken = false;  ///< the last query failed; the GPU must not be given new tasks
  std::string error;    ///< why it is broken; empty otherwise

  bool is_cpu() const { return index == kCpuDevice; }
};

/// Every device, ordered by index: the CPU (-1) first, then the GPUs 0, 1, ...
struct DeviceSnapshot {
  std::vector<DeviceInfo> devices;

  /// The device with this index, or nullptr.
  const DeviceInfo* find(int index) const;
  /// How many GPUs (broken ones included) the snapshot holds.
  int gpu_count() const;
};

/// GPU memory one process holds on one GPU, as the driver reports it.
struct ProcessMemoryUse {
  int gpu = 0;
  int pid = 0;
  std::int64_t used_mb = 0;
};

/// The GPU memory of the processes in `pids`, summed over every GPU, in MB.
std::int64_t memory_of_processes(const std::vector<ProcessMemoryUse>& uses,
                                 const std::vector<int>& pids);

/// The CPU as a device: index -1, named "CPU", no memory figures.
DeviceInfo cpu_device();

/// Reads the state of the devices. Implementations are safe to call from any thread; a failure
/// never throws or crashes: a GPU that cannot be read is reported broken, and a probe that cannot
/// reach any GPU reports the CPU only and says why in notice().
class DeviceProbe {
 public:
  virtual ~DeviceProbe() = default;

  /// A fresh snapshot. GPUs broken at the previous call are queried again.
  virtual DeviceSnapshot probe() = 0;

  /// The GPU memory each process holds, per GPU: only processes whose use the driver knows, on
  /// GPUs that answer. Cheaper than probe() where the probe can ask for the processes alone
  /// (NVML); by default it is read from probe() (simulated GPUs report their holdings).
  virtual std::vector<ProcessMemoryUse> process_memory();

  /// One line for the server's log about how devices are found (e.g. why there is no GPU);
  /// empty when there is nothing to say.
  virtual std::string notice() const = 0;
};

}  // namespace dlnest
