#include "server/launch.h"

#include <algorithm>

#include "devices/device_probe.h"
#include "dlnest/save_package.h"
#include "env/path.h"
#include "task/worker_invocation.h"

namespace dlnest {
namespace {

template <typename T>
std::string comma_list(const std::vector<T>& values) {
  std::string out;
  for (const T& v : values) out += (out.empty() ? "" : ",") + std::to_string(v);
  return out;
}

SpawnSpec base_spec(const TaskRecord& task, const TaskFiles& files) {
  SpawnSpec spec;
  spec.cwd = task.package_dir;
  spec.output_path = task_output_file(task, files);
  spec.exit_file = files.exit_file(task.id);
  spec.env[kTaskIdEnv] = task.id;
  return spec;
}

/// Where the worker runs: the GPUs it got, or the CPU ({kCpuDevice} or nothing).
std::vector<int> gpus_of(const std::vector<int>& devices) {
  if (devices.empty() || devices[0] == kCpuDevice) return {};
  return devices;
}

}  // namespace

std::string TaskFiles::exit_file(const std::string& id) const {
  return path::join(dir_, id + ".exit");
}
std::string TaskFiles::build_error_file(const std::string& id) const {
  return path::join(dir_, id + ".error");
}
std::string TaskFiles::analyzer_socket(const std::string& id) const {
  return path::join(dir_, id + ".sock");
}
std::string TaskFiles::analysis_output(const std::string& id) const {
  return path::join(dir_, id + ".out");
}

std::string task_output_file(const TaskRecord& task, const TaskFiles& files) {
  if (task.type == TaskType::kAnalyze) return files.analysis_output(task.id);
  return path::join(task.package_dir, SavePackage::kOutputFile);
}

SpawnSpec build_spec(const TaskRecord& task, const LaunchSettings& settings,
                     const TaskFiles& files) {
  SpawnSpec spec = base_spec(task, files);
  spec.argv = {
      settings.dlnest_path, "build-package",  "--package",    task.package_dir,
      "--project",          task.project_dir, "--error-file", files.build_error_file(task.id),
      "--exit-file",        spec.exit_file};
  if (!settings.dlnest_cmake_dir.empty()) {
    spec.argv.insert(spec.argv.end(), {"--cmake-dir", settings.dlnest_cmake_dir});
  }
  return spec;
}

SpawnSpec worker_spec(const TaskRecord& task, const std::vector<int>& devices,
                      const std::vector<int64_t>& reserved_mb, bool package_has_checkpoint,
                      const LaunchSettings& settings, const TaskFiles& files) {
  SpawnSpec spec = base_spec(task, files);
  spec.env[kTaskDevicesEnv] = comma_list(devices);
  spec.env[kTaskReservedEnv] = comma_list(reserved_mb);
  WorkerInvocation worker;
  worker.package_dir = task.package_dir;
  worker.exit_file = spec.exit_file;
  worker.checkpoint_id = task.checkpoint_id;
  worker.gpus = gpus_of(devices);
  if (task.type == TaskType::kAnalyze) {
    worker.mode = WorkerInvocation::Mode::kAnalyze;
    worker.scripts_dir = task.script_path;
    worker.socket_path = files.analyzer_socket(task.id);
  } else {
    worker.resume = task.load_ckpt;
    if (task.restarts > 0) {
      // A restart continues from the latest checkpoint, or starts over when there is none.
      worker.resume = package_has_checkpoint;
      worker.checkpoint_id = kLatestCheckpoint;
    }
    worker.ddp = task.ddp;
    if (task.ddp && worker.gpus.empty()) worker.nproc = std::max(task.nproc, 1);
    if (!task.ddp && !task.multi_gpu && worker.gpus.size() > 1) worker.gpus.resize(1);
  }
  spec.argv = worker.to_argv(settings.worker_path);
  return spec;
}

}  // namespace dlnest
