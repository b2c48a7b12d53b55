// A device probe with simulated GPUs, for tests and for running the server without a GPU.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "devices/device_probe.h"
#include "devices/simulated_machine.h"
#include "dlnest/status.h"

namespace dlnest {

/// GPUs that exist only in memory: each has a total, and its used memory is the sum of what the
/// tasks placed on it hold, so a scheduler test sees free memory follow its own decisions.
/// Failures and utilisation are set by hand. Safe to use from several threads.
class SimulatedProbe : public DeviceProbe {
 public:
  /// GPUs 0, 1, ... with these totals in MB: empty, idle and healthy.
  explicit SimulatedProbe(std::vector<std::int64_t> totals_mb);
  /// GPUs whose holdings are shared with the other servers of `machine`: what any of them
  /// placed shows here once visible, and nothing is refused (overbooking shows as a GPU with
  /// more used than total and no memory free).
  SimulatedProbe(std::vector<std::int64_t> totals_mb, SimulatedMachine machine);

  DeviceSnapshot probe() override;
  /// Says that the GPUs are simulated, so a log never mistakes them for real ones.
  std::string notice() const override;

  /// Counts `mb` MB on `gpu` as held by `task_id`, shown as process `pid`; replaces what the
  /// task held on that GPU before. Like a CUDA out-of-memory error, fails when the GPU has less
  /// free; also fails for an unknown or broken GPU and a negative amount.
  Status place(const std::string& task_id, int gpu, std::int64_t mb, int pid = 0);

  /// Frees what `task_id` holds on every GPU (nothing to free is fine).
  void remove(const std::string& task_id);

  /// Breaks or mends `gpu`. A broken GPU reports `error` and no readings; what tasks hold on it
  /// is kept and shows again once it is mended.
  Status set_broken(int gpu, bool broken, std::string error = "simulated failure");

  /// Sets the utilisation percentages (0 to 100) that `gpu` reports.
  Status set_utilisation(int gpu, int gpu_percent, int memory_percent);

 private:
  struct Holding {
    std::string task_id;
    std::int64_t mb;
    int pid;
  };
  struct Gpu {
    std::int64_t total_mb = 0;
    std::vector<Holding> holdings;
    bool broken = false;
    std::string error;
    int gpu_util = 0;
    int memory_util = 0;

    std::int64_t used_mb() const;
  };

  Status check_index(int gpu) const;
  static DeviceInfo describe(int index, const Gpu& gpu);

  void read_shared(std::vector<Gpu>* gpus) const;

  mutable std::mutex mu_;
  std::vector<Gpu> gpus_;  // guarded by mu_
  std::optional<SimulatedMachine> machine_;
};

}  // namespace dlnest
