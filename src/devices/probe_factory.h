// Choosing the device probe: NVML, or simulated GPUs when explicitly asked for.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "devices/device_probe.h"
#include "devices/nvml_library.h"
#include "dlnest/status.h"
#include "ledger/reservation_ledger.h"
#include "supervisor/task_runner.h"

namespace dlnest {

/// The environment variable that asks for simulated GPUs, e.g. "sim:24000,24000".
constexpr char kSimulatedGpusEnv[] = "DLNEST_SIMULATED_GPUS";
/// The server flag that asks for simulated GPUs; it wins over the environment variable.
constexpr char kSimulatedGpusFlag[] = "--simulated-gpus";
/// The environment variable naming the NVML library to load instead of libnvidia-ml.so.1 (a
/// driver installed elsewhere, or a fake NVML in tests).
constexpr char kNvmlLibraryEnv[] = "DLNEST_NVML_LIBRARY";
/// The most GPUs a simulated spec may list.
constexpr int kMaxSimulatedGpus = 64;
/// The largest simulated GPU, in MB (1 PiB).
constexpr std::int64_t kMaxSimulatedGpuMb = std::int64_t{1} << 30;

/// Where the device probe comes from. Simulated GPUs are used only when the flag or the
/// environment variable asks for them, never as a silent fallback; otherwise NVML.
struct ProbeSelection {
  std::string flag_spec;  ///< the value of --simulated-gpus; empty when not given
  std::string env_spec;   ///< the value of DLNEST_SIMULATED_GPUS; empty when unset
  /// Where NVML is loaded from: $DLNEST_NVML_LIBRARY, else kNvmlLibrary (tests give a fake).
  std::string nvml_library = kNvmlLibrary;
  /// $DLNEST_SIMULATED_MACHINE: simulated GPUs shared with the other servers using that folder
  /// (and their reservation ledger there); empty: this server's own simulated GPUs.
  std::string simulated_machine;
  /// $DLNEST_SIMULATED_ALLOC_DELAY_MS: how long a shared simulated task takes to allocate.
  int simulated_alloc_delay_ms = 0;
  /// The machine-wide reservation ledger of real GPUs (default_ledger_dir()).
  std::string ledger_dir;

  /// The selection made by the flag's value (empty when not given) and this process's
  /// environment.
  static ProbeSelection from_environment(std::string flag_spec);
};

/// Parses a simulated-GPU spec, "sim:MB[,MB...]", into the GPUs' totals in MB; "sim:" alone means
/// no GPU (the CPU only). Errors say which GPU's entry is wrong and what was expected.
Result<std::vector<std::int64_t>> parse_simulated_gpus(const std::string& spec);

/// The probe the selection asks for: simulated GPUs when flag_spec or env_spec is set (the flag
/// wins), NVML otherwise. A malformed spec is an error naming its source and the spec.
Result<std::unique_ptr<DeviceProbe>> make_probe(const ProbeSelection& selection);

/// The devices a server works with: what it measures them with, and what it starts tasks
/// through.
struct DeviceBackend {
  std::unique_ptr<DeviceProbe> probe;
  std::unique_ptr<TaskRunner> runner;
  /// The reservations of the other servers sharing these GPUs: the machine-wide ledger for
  /// NVML, the simulated machine's for shared simulated GPUs, none for private simulated ones.
  std::unique_ptr<ReservationLedger> ledger;
  /// Why there is no ledger although the GPUs are shared (the server warns and goes on).
  Status ledger_status;
};

/// The probe the selection asks for, and `runner` to start tasks with. With simulated GPUs the
/// runner is wrapped so that tasks placed on them run on the CPU and their reservations show in
/// the probe; callers cannot tell which they got.
Result<DeviceBackend> make_device_backend(const ProbeSelection& selection,
                                          std::unique_ptr<TaskRunner> runner);

}  // namespace dlnest
