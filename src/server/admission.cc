#include "server/admission.h"

namespace dlnest {
namespace {

Status check_memory(int64_t memory_mb, bool automatic) {
  if (automatic) return Status::ok();
  if (memory_mb == 0 || memory_mb < kDefaultMemoryMb) {
    return Status::invalid_argument(
        "memory_consumption must be a positive number of MB, -1 (the default) or auto; got " +
        std::to_string(memory_mb));
  }
  return Status::ok();
}

/// `nproc` asks for CPU ranks of a DDP task; 0 leaves the default.
Status check_nproc(int nproc, bool ddp, bool cpu) {
  if (nproc == 0) return Status::ok();
  if (nproc < 0 || nproc > kMaxNproc) {
    return Status::invalid_argument("nproc must be between 1 and " + std::to_string(kMaxNproc));
  }
  if (!ddp) return Status::invalid_argument("nproc applies to DDP tasks (DDP=True)");
  if (!cpu) {
    return Status::invalid_argument(
        "nproc applies to CPU tasks; a DDP task on GPUs runs one rank per GPU it is given");
  }
  return Status::ok();
}

Status check_gpu_request(bool cpu, const MachineFacts& machine) {
  if (cpu || machine.gpu_count > 0) return Status::ok();
  return Status::failed_precondition(
      "this machine has no GPU: run the task on the CPU (dlnest --cpu, shell -CPU, HTTP "
      "CPU=True)");
}

/// A training task of `package` with `resources` (type, args, package, devices asked for).
TaskRecord train_record(const PackageFacts& package, const TrainResources& resources) {
  TaskRecord task;
  task.type = TaskType::kTrain;
  task.args = package.args;
  task.package_dir = package.package_dir;
  task.memory_mb = resources.memory_mb;
  task.cpu = resources.cpu;
  task.multi_gpu = resources.multi_gpu || resources.ddp;
  task.ddp = resources.ddp;
  task.nproc = resources.nproc;
  task.max_restarts = resources.max_restarts;
  return task;
}

}  // namespace

Status check_train_request(const TrainResources& resources, const MachineFacts& machine) {
  DLNEST_RETURN_IF_ERROR(check_memory(resources.memory_mb, resources.memory_auto));
  if (resources.max_restarts < 0) return Status::invalid_argument("max_restarts must be >= 0");
  DLNEST_RETURN_IF_ERROR(check_nproc(resources.nproc, resources.ddp, resources.cpu));
  return check_gpu_request(resources.cpu, machine);
}

Status check_continue_request(const ContinueSubmit& submit, const MachineFacts& machine) {
  DLNEST_RETURN_IF_ERROR(check_train_request(submit.resources, machine));
  if (submit.checkpoint_id < kLatestCheckpoint) {
    return Status::invalid_argument("checkpoint_ID must be a checkpoint id or -1 (the latest)");
  }
  return Status::ok();
}

Status check_analyze_request(const AnalyzeSubmit& submit, const MachineFacts& machine) {
  DLNEST_RETURN_IF_ERROR(check_memory(submit.memory_mb, submit.memory_auto));
  if (submit.checkpoint_id < -2) {
    return Status::invalid_argument(
        "checkpoint_ID must be a checkpoint id, -1 (the latest) or -2 (none)");
  }
  return check_gpu_request(submit.cpu, machine);
}

TaskRecord admit_train(const TrainSubmit& submit, const PackageFacts& package,
                       const std::string& project_dir) {
  TaskRecord task = train_record(package, submit.resources);
  task.description = submit.description;
  task.project_dir = project_dir;
  task.needs_build = true;
  return task;
}

TaskRecord admit_continue(const ContinueSubmit& submit, const PackageFacts& package) {
  TaskRecord task = train_record(package, submit.resources);
  task.description = submit.description.empty() ? package.description : submit.description;
  task.load_ckpt = true;
  task.checkpoint_id = submit.checkpoint_id;
  return task;
}

TaskRecord admit_analyze(const AnalyzeSubmit& submit, const PackageFacts& package,
                         const std::string& scripts_dir) {
  TaskRecord task;
  task.type = TaskType::kAnalyze;
  task.args = package.args;
  task.package_dir = package.package_dir;
  task.script_path = scripts_dir;
  task.description = package.description;
  task.memory_mb = submit.memory_mb;
  task.cpu = submit.cpu;
  task.load_ckpt = submit.checkpoint_id != -2;
  task.checkpoint_id = submit.checkpoint_id;
  return task;
}

Status check_package_free(const std::string& package_dir, const std::vector<TaskRecord>& active) {
  for (const TaskRecord& t : active) {
    if (t.type == TaskType::kTrain && t.package_dir == package_dir) {
      return Status::failed_precondition("save package " + package_dir + " is in use by task " +
                                         t.id + " (" + task_state_name(t.state) +
                                         "); delete it first or wait until it ends");
    }
  }
  return Status::ok();
}

}  // namespace dlnest
