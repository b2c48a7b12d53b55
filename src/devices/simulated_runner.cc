#include "devices/simulated_runner.h"

#include <sstream>

#include "task/worker_invocation.h"

namespace dlnest {
namespace {

constexpr const char* kDevicesEnv = "DLNEST_DEVICES";
constexpr const char* kReservedEnv = "DLNEST_RESERVED_MB";

std::vector<int64_t> numbers(const std::map<std::string, std::string>& env, const char* key) {
  std::vector<int64_t> out;
  auto it = env.find(key);
  if (it == env.end()) return out;
  std::stringstream in(it->second);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      out.push_back(std::stoll(item));
    } catch (const std::exception&) {
      return {};
    }
  }
  return out;
}

/// The worker's command line with its GPUs taken away: the simulated GPUs run on the CPU.
std::vector<std::string> on_cpu(const std::vector<std::string>& argv) {
  if (argv.size() < 2) return argv;
  auto worker = WorkerInvocation::parse({argv.begin() + 1, argv.end()});
  if (!worker.is_ok() || worker->gpus.empty()) return argv;
  if (worker->ddp) worker->nproc = static_cast<int>(worker->gpus.size());
  worker->gpus.clear();
  return worker->to_argv(argv[0]);
}

}  // namespace

SimulatedGpuRunner::SimulatedGpuRunner(std::unique_ptr<TaskRunner> inner, SimulatedProbe* gpus)
    : inner_(std::move(inner)), gpus_(gpus) {}

void SimulatedGpuRunner::on_exit(ExitCallback callback) {
  inner_->on_exit(
      [this, callback = std::move(callback)](const std::string& id, const ExitInfo& exit) {
        gpus_->remove(id);
        callback(id, exit);
      });
}

Result<ProcessHandle> SimulatedGpuRunner::spawn(const std::string& task_id, const SpawnSpec& spec) {
  SpawnSpec cpu_spec = spec;
  cpu_spec.argv = on_cpu(spec.argv);
  DLNEST_ASSIGN_OR_RETURN(ProcessHandle handle, inner_->spawn(task_id, cpu_spec));
  const std::vector<int64_t> devices = numbers(spec.env, kDevicesEnv);
  const std::vector<int64_t> reserved = numbers(spec.env, kReservedEnv);
  for (size_t i = 0; i < devices.size() && i < reserved.size(); ++i) {
    if (devices[i] >= 0) {
      (void)gpus_->place(task_id, static_cast<int>(devices[i]), reserved[i], handle.pid);
    }
  }
  return handle;
}

Status SimulatedGpuRunner::release(const std::string& task_id) {
  return inner_->release(task_id);
}
void SimulatedGpuRunner::abandon(const std::string& task_id) {
  inner_->abandon(task_id);
}
Status SimulatedGpuRunner::adopt(const std::string& task_id, const ProcessHandle& process,
                                 const std::string& exit_file) {
  return inner_->adopt(task_id, process, exit_file);
}
Status SimulatedGpuRunner::terminate(const std::string& task_id) {
  return inner_->terminate(task_id);
}
void SimulatedGpuRunner::terminate_all_and_wait() {
  inner_->terminate_all_and_wait();
}
void SimulatedGpuRunner::detach() {
  inner_->detach();
}
std::vector<int> SimulatedGpuRunner::task_pids(const std::string& task_id) const {
  return inner_->task_pids(task_id);
}

}  // namespace dlnest
