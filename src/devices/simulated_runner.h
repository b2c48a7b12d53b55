// The runner half of simulated GPUs: tasks the scheduler places on simulated GPUs run on the CPU,
// and what was reserved for them shows as used memory of those GPUs while they run. Paired with
// a SimulatedProbe by make_device_backend(); the server never names either.
#pragma once

#include <memory>

#include "devices/simulated_probe.h"
#include "supervisor/task_runner.h"

namespace dlnest {

class SimulatedGpuRunner : public TaskRunner {
 public:
  /// Starts tasks through `inner`; `gpus` must outlive this runner.
  SimulatedGpuRunner(std::unique_ptr<TaskRunner> inner, SimulatedProbe* gpus);

  void on_exit(ExitCallback callback) override;
  /// Rewrites a worker's GPU flags for the CPU (a DDP task gets one CPU rank per GPU) and places
  /// the reservation from the task's environment on the simulated GPUs as the new process.
  Result<ProcessHandle> spawn(const std::string& task_id, const SpawnSpec& spec) override;
  Status release(const std::string& task_id) override;
  void abandon(const std::string& task_id) override;
  Status adopt(const std::string& task_id, const ProcessHandle& process,
               const std::string& exit_file) override;
  Status terminate(const std::string& task_id) override;
  void terminate_all_and_wait() override;
  void detach() override;
  std::vector<int> task_pids(const std::string& task_id) const override;

 private:
  std::unique_ptr<TaskRunner> inner_;
  SimulatedProbe* gpus_;
};

}  // namespace dlnest
