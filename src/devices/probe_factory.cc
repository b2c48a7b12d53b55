#include "devices/probe_factory.h"

#include <charconv>
#include <cstdlib>
#include <string_view>
#include <system_error>
#include <utility>

#include "devices/nvml_probe.h"
#include "devices/simulated_probe.h"
#include "devices/simulated_runner.h"

namespace dlnest {

namespace {

constexpr std::string_view kSimPrefix = "sim:";

/// A positive whole number of MB up to kMaxSimulatedGpuMb, or an error for GPU `index`.
Result<std::int64_t> parse_mb(std::string_view text, std::size_t index) {
  const std::string where = "GPU " + std::to_string(index) + ": ";
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return Status::invalid_argument(where + "expected a whole number of MB, got \"" +
                                    std::string(text) + "\"");
  }
  std::int64_t mb = 0;
  const std::from_chars_result parsed = std::from_chars(text.data(), text.data() + text.size(), mb);
  if (parsed.ec == std::errc::result_out_of_range || mb > kMaxSimulatedGpuMb) {
    return Status::invalid_argument(where + std::string(text) + " MB is more than the limit of " +
                                    std::to_string(kMaxSimulatedGpuMb) + " MB");
  }
  if (mb == 0) return Status::invalid_argument(where + "a GPU needs more than 0 MB");
  return mb;
}

}  // namespace

ProbeSelection ProbeSelection::from_environment(std::string flag_spec) {
  ProbeSelection selection;
  selection.flag_spec = std::move(flag_spec);
  const char* env = std::getenv(kSimulatedGpusEnv);
  selection.env_spec = env != nullptr ? env : "";
  const char* nvml = std::getenv(kNvmlLibraryEnv);
  if (nvml != nullptr && *nvml != '\0') selection.nvml_library = nvml;
  const char* machine = std::getenv(kSimulatedMachineEnv);
  selection.simulated_machine = machine != nullptr ? machine : "";
  const char* delay = std::getenv(kSimulatedAllocDelayEnv);
  selection.simulated_alloc_delay_ms = delay != nullptr ? std::atoi(delay) : 0;
  selection.ledger_dir = default_ledger_dir();
  return selection;
}

Result<std::vector<std::int64_t>> parse_simulated_gpus(const std::string& spec) {
  const std::string_view view(spec);
  if (view.substr(0, kSimPrefix.size()) != kSimPrefix) {
    return Status::invalid_argument(
        "expected \"sim:MB[,MB...]\", the memory of each simulated GPU (e.g. \"sim:24000,24000\")");
  }
  std::vector<std::int64_t> totals;
  const std::string_view list = view.substr(kSimPrefix.size());
  if (list.empty()) return totals;
  for (std::size_t start = 0;;) {
    if (totals.size() == static_cast<std::size_t>(kMaxSimulatedGpus)) {
      return Status::invalid_argument("more than " + std::to_string(kMaxSimulatedGpus) +
                                      " simulated GPUs");
    }
    const std::size_t comma = list.find(',', start);
    Result<std::int64_t> mb = parse_mb(list.substr(start, comma - start), totals.size());
    if (!mb.is_ok()) return mb.status();
    totals.push_back(*mb);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return totals;
}

namespace {

/// Whether the selection asks for simulated GPUs.
bool wants_simulated(const ProbeSelection& selection) {
  return !selection.flag_spec.empty() || !selection.env_spec.empty();
}

/// The totals of the simulated GPUs the selection asks for (the flag wins over the environment).
Result<std::vector<std::int64_t>> simulated_totals(const ProbeSelection& selection) {
  const bool from_flag = !selection.flag_spec.empty();
  const std::string& spec = from_flag ? selection.flag_spec : selection.env_spec;
  Result<std::vector<std::int64_t>> totals = parse_simulated_gpus(spec);
  if (!totals.is_ok()) {
    const std::string source = from_flag ? kSimulatedGpusFlag : kSimulatedGpusEnv;
    return totals.status().with_context(source + "=\"" + spec + "\"");
  }
  return totals;
}

/// The simulated GPUs the selection asks for, this server's own.
Result<std::unique_ptr<SimulatedProbe>> make_simulated(const ProbeSelection& selection) {
  DLNEST_ASSIGN_OR_RETURN(std::vector<std::int64_t> totals, simulated_totals(selection));
  return std::make_unique<SimulatedProbe>(std::move(totals));
}

}  // namespace

Result<std::unique_ptr<DeviceProbe>> make_probe(const ProbeSelection& selection) {
  if (!wants_simulated(selection)) {
    return std::unique_ptr<DeviceProbe>(std::make_unique<NvmlProbe>(selection.nvml_library));
  }
  DLNEST_ASSIGN_OR_RETURN(std::unique_ptr<SimulatedProbe> probe, make_simulated(selection));
  return std::unique_ptr<DeviceProbe>(std::move(probe));
}

namespace {

/// Opens the ledger in `dir` into `backend`, or says there why not.
void open_ledger(const std::string& dir, DeviceBackend* backend) {
  if (dir.empty()) return;
  Result<std::unique_ptr<FileLedger>> ledger = FileLedger::open(dir);
  if (ledger.is_ok()) {
    backend->ledger = std::move(ledger).value();
  } else {
    backend->ledger_status = ledger.status();
  }
}

}  // namespace

Result<DeviceBackend> make_device_backend(const ProbeSelection& selection,
                                          std::unique_ptr<TaskRunner> runner) {
  DeviceBackend backend;
  if (!wants_simulated(selection)) {
    backend.probe = std::make_unique<NvmlProbe>(selection.nvml_library);
    backend.runner = std::move(runner);
    open_ledger(selection.ledger_dir, &backend);
    return backend;
  }
  DLNEST_ASSIGN_OR_RETURN(std::vector<std::int64_t> totals, simulated_totals(selection));
  std::unique_ptr<SimulatedProbe> probe;
  if (selection.simulated_machine.empty()) {
    probe = std::make_unique<SimulatedProbe>(std::move(totals));
  } else {
    DLNEST_ASSIGN_OR_RETURN(SimulatedMachine machine,
                            SimulatedMachine::open(selection.simulated_machine,
                                                   selection.simulated_alloc_delay_ms / 1000.0));
    open_ledger(machine.ledger_dir(), &backend);
    probe = std::make_unique<SimulatedProbe>(std::move(totals), std::move(machine));
  }
  backend.runner = std::make_unique<SimulatedGpuRunner>(std::move(runner), probe.get());
  backend.probe = std::move(probe);
  return backend;
}

}  // namespace dlnest
