// Admission: turning a request (/run_train, /continue_train, /analyze) into a task record. Pure
// code: validation, defaults and resources; the caller reads the config and the package and
// hands their facts in, so every rule here is tested without a file or a process.
#pragma once

#include <cstdint>
#include <string>

#include "dlnest/status.h"
#include "package/args_history.h"
#include "state/task_record.h"

namespace dlnest {

/// The most DDP ranks a CPU task may ask for.
inline constexpr int kMaxNproc = 1024;

/// Where and how a training runs: what /run_train and /continue_train share.
struct TrainResources {
  int64_t memory_mb = kDefaultMemoryMb;
  /// memory_consumption=auto: the estimate comes from the last peak of the same project and
  /// config (server/memory_estimate.h); memory_mb is then unused.
  bool memory_auto = false;
  bool cpu = false;
  bool ddp = false;
  int nproc = 0;  ///< DDP ranks on the CPU; 0: one
  bool multi_gpu = false;
  int max_restarts = 0;
};

/// /run_train.
struct TrainSubmit {
  std::string config_path;
  std::string freq_path;
  std::string description;
  bool no_save = false;
  bool use_description = false;
  TrainResources resources;
};

/// /continue_train.
struct ContinueSubmit {
  std::string record_path;
  int64_t checkpoint_id = kLatestCheckpoint;
  std::string description;
  TrainResources resources;
  ArgsChanges args_changes;  ///< made to the package's args before it is queued
};

/// /analyze.
struct AnalyzeSubmit {
  std::string record_path;
  std::string script_path;  ///< empty: the package's AnalyzeScripts/
  int64_t checkpoint_id = kLatestCheckpoint;
  int64_t memory_mb = kDefaultMemoryMb;
  bool memory_auto = false;  ///< as in TrainResources
  bool cpu = false;
};

/// What admission needs to know about the machine.
struct MachineFacts {
  int gpu_count = 0;  ///< GPUs the device probe sees
};

/// What admission needs to know about a save package (read by the caller).
struct PackageFacts {
  std::string package_dir;  ///< absolute
  Json args = Json::object();
  std::string description;
};

/// The checks a training request passes before any work: memory, restarts, ranks, GPUs.
Status check_train_request(const TrainResources& resources, const MachineFacts& machine);

/// The checks of a continue request (those of check_train_request and the checkpoint id).
Status check_continue_request(const ContinueSubmit& submit, const MachineFacts& machine);

/// The checks of an analysis request: memory, checkpoint id (-2: none), GPUs.
Status check_analyze_request(const AnalyzeSubmit& submit, const MachineFacts& machine);

/// The new training task of a package created for `submit` from project `project_dir`: its
/// plugin is still to be built (the Building stage).
TaskRecord admit_train(const TrainSubmit& submit, const PackageFacts& package,
                       const std::string& project_dir);

/// The task continuing `package`; its plugin is the package's own, already built.
TaskRecord admit_continue(const ContinueSubmit& submit, const PackageFacts& package);

/// The analysis task of `package` running the scripts in `scripts_dir` (absolute).
TaskRecord admit_analyze(const AnalyzeSubmit& submit, const PackageFacts& package,
                         const std::string& scripts_dir);

/// FailedPrecondition naming the active task that already uses `package_dir`, or ok. `active`
/// holds the tasks not ended.
Status check_package_free(const std::string& package_dir, const std::vector<TaskRecord>& active);

}  // namespace dlnest
