// What the server starts for a task: the build stage's `dlnest build-package` and the worker,
// as SpawnSpecs. Pure: the caller reads whatever the choices depend on.
#pragma once

#include <string>
#include <vector>

#include "state/task_record.h"
#include "supervisor/task_runner.h"

namespace dlnest {

/// The files the server keeps for each task in `<state dir>/tasks/`.
class TaskFiles {
 public:
  explicit TaskFiles(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }
  /// The exit code of the task's current process (worker or build).
  std::string exit_file(const std::string& id) const;
  /// The first error line of a failed build.
  std::string build_error_file(const std::string& id) const;
  /// The Unix socket an analysis task's worker listens on for commands.
  std::string analyzer_socket(const std::string& id) const;
  /// The output of an analysis task (training output lives in its package).
  std::string analysis_output(const std::string& id) const;

 private:
  std::string dir_;
};

/// The programs and folders tasks are started with.
struct LaunchSettings {
  std::string worker_path;       ///< dlnest-worker
  std::string dlnest_path;       ///< dlnest, whose build-package runs the build stage
  std::string dlnest_cmake_dir;  ///< DLNestConfig.cmake, for building projects
};

/// The file a task's output goes to: the package's output file for training, a file in the
/// state dir for analysis.
std::string task_output_file(const TaskRecord& task, const TaskFiles& files);

/// The build stage of a new training: builds the package's plugin from its own sources.
SpawnSpec build_spec(const TaskRecord& task, const LaunchSettings& settings,
                     const TaskFiles& files);

/// The worker of `task` on `devices` (GPU ids, or {kCpuDevice}); `reserved_mb` per device is
/// passed on in the environment. A restarted training continues from its latest checkpoint when
/// `package_has_checkpoint`, else starts over.
SpawnSpec worker_spec(const TaskRecord& task, const std::vector<int>& devices,
                      const std::vector<int64_t>& reserved_mb, bool package_has_checkpoint,
                      const LaunchSettings& settings, const TaskFiles& files);

/// The environment variables a task's processes get.
inline constexpr const char* kTaskIdEnv = "DLNEST_TASK_ID";
inline constexpr const char* kTaskDevicesEnv = "DLNEST_DEVICES";       ///< "0,1" or "-1"
inline constexpr const char* kTaskReservedEnv = "DLNEST_RESERVED_MB";  ///< per device, "a,b"

}  // namespace dlnest
