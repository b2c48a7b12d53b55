// Simulated GPUs shared by several servers, as real GPUs are: the memory every server's tasks
// hold is a file per holding in one folder (DLNEST_SIMULATED_MACHINE), so that each server's
// probe sees the others' tasks as NVML would. A holding shows only `alloc_delay` after it was
// placed, as a real task allocates only after it has loaded; it ends with its process.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "dlnest/status.h"

namespace dlnest {

/// The environment variable naming the shared folder of simulated GPUs.
inline constexpr char kSimulatedMachineEnv[] = "DLNEST_SIMULATED_MACHINE";
/// The environment variable with the milliseconds before a placement shows (default 0).
inline constexpr char kSimulatedAllocDelayEnv[] = "DLNEST_SIMULATED_ALLOC_DELAY_MS";

/// Memory one live process holds on one simulated GPU.
struct SharedHolding {
  int gpu = 0;
  std::int64_t mb = 0;
  int pid = 0;
  std::string task_id;
  bool visible = false;  ///< its allocation delay has passed
};

class SimulatedMachine {
 public:
  /// The machine in `dir` (created mode 1777 with its holdings/ and ledger/ folders).
  static Result<SimulatedMachine> open(const std::string& dir, double alloc_delay_s);

  /// Records that process `pid` of `task_id` holds `mb` on `gpu` from now (visible after the
  /// delay). Nothing is refused: memory placed beyond a GPU's total is what the tests look for.
  Status place(const std::string& task_id, int gpu, std::int64_t mb, int pid);
  /// Ends what `task_id` holds.
  void remove(const std::string& task_id);
  /// Every holding whose process lives, at wall-clock time `now`.
  std::vector<SharedHolding> holdings(double now) const;

  const std::string& dir() const { return dir_; }
  /// Where the servers sharing this machine keep their reservation ledger.
  std::string ledger_dir() const { return dir_ + "/ledger"; }

 private:
  std::string dir_;
  double alloc_delay_s_ = 0;
};

/// Wall-clock seconds.
double simulated_machine_now();

}  // namespace dlnest
