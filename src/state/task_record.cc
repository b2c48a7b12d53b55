#include "state/task_record.h"

#include <cmath>
#include <cstdio>
#include <utility>

namespace dlnest {
namespace {

constexpr std::pair<TaskType, const char*> kTypeNames[] = {
    {TaskType::kTrain, "Train"},
    {TaskType::kAnalyze, "Analyze"},
};

constexpr std::pair<TaskState, const char*> kStateNames[] = {
    {TaskState::kPending, "Pending"}, {TaskState::kBuilding, "Building"},
    {TaskState::kRunning, "Running"}, {TaskState::kFinished, "Finished"},
    {TaskState::kFailed, "Failed"},   {TaskState::kKilled, "Killed"},
};

// Reads `json[key]` into `out`; InvalidArgument naming the key when it is missing or mistyped.
template <typename T>
Status read_field(const Json& json, const char* key, T& out) {
  auto it = json.find(key);
  if (it == json.end())
    return Status::invalid_argument(std::string("task field '") + key + "' is missing");
  try {
    out = it->template get<T>();
  } catch (const Json::exception& e) {
    return Status::invalid_argument(std::string("task field '") + key + "': " + e.what());
  }
  return Status::ok();
}

// Reads the fields that only this implementation writes.
Status read_new_fields(const Json& json, TaskRecord& task) {
  DLNEST_RETURN_IF_ERROR(read_field(json, "package_dir", task.package_dir));
  DLNEST_RETURN_IF_ERROR(read_field(json, "CPU", task.cpu));
  DLNEST_RETURN_IF_ERROR(read_field(json, "nproc", task.nproc));
  DLNEST_RETURN_IF_ERROR(read_field(json, "submit_time", task.submit_time));
  DLNEST_RETURN_IF_ERROR(read_field(json, "start_time", task.start_time));
  DLNEST_RETURN_IF_ERROR(read_field(json, "end_time", task.end_time));
  DLNEST_RETURN_IF_ERROR(read_field(json, "pid", task.pid));
  DLNEST_RETURN_IF_ERROR(read_field(json, "pid_start_ticks", task.pid_start_ticks));
  DLNEST_RETURN_IF_ERROR(read_field(json, "restarts", task.restarts));
  DLNEST_RETURN_IF_ERROR(read_field(json, "max_restarts", task.max_restarts));
  DLNEST_RETURN_IF_ERROR(read_field(json, "error", task.error));
  // Written since schema version 3; absent from the records of older servers.
  if (json.contains("project_dir")) {
    DLNEST_RETURN_IF_ERROR(read_field(json, "project_dir", task.project_dir));
    DLNEST_RETURN_IF_ERROR(read_field(json, "needs_build", task.needs_build));
    DLNEST_RETURN_IF_ERROR(read_field(json, "delete_requested", task.delete_requested));
  }
  // Written since schema version 4.
  if (json.contains("peak_memory_mb")) {
    DLNEST_RETURN_IF_ERROR(read_field(json, "peak_memory_mb", task.peak_memory_mb));
    DLNEST_RETURN_IF_ERROR(read_field(json, "memory_source", task.memory_source));
    DLNEST_RETURN_IF_ERROR(read_field(json, "config_digest", task.config_digest));
  }
  auto exit_code = json.find("exit_code");
  if (exit_code == json.end()) return Status::invalid_argument("task field 'exit_code' is missing");
  if (!exit_code->is_null()) {
    int code = 0;
    DLNEST_RETURN_IF_ERROR(read_field(json, "exit_code", code));
    task.exit_code = code;
  }
  return Status::ok();
}

}  // namespace

const char* task_type_name(TaskType type) {
  for (const auto& [value, name] : kTypeNames) {
    if (value == type) return name;
  }
  return "?";
}

const char* task_state_name(TaskState state) {
  for (const auto& [value, name] : kStateNames) {
    if (value == state) return name;
  }
  return "?";
}

Result<TaskType> parse_task_type(const std::string& name) {
  for (const auto& [value, text] : kTypeNames) {
    if (name == text) return value;
  }
  return Status::invalid_argument("unknown task type '" + name + "' (expected Train or Analyze)");
}

Result<TaskState> parse_task_state(const std::string& name) {
  for (const auto& [value, text] : kStateNames) {
    if (name == text) return value;
  }
  return Status::invalid_argument(
      "unknown task state '" + name +
      "' (expected Pending, Building, Running, Finished, Failed or Killed)");
}

bool is_legal_transition(TaskState from, TaskState to) {
  switch (from) {
    case TaskState::kPending:
      return to == TaskState::kBuilding || to == TaskState::kRunning || to == TaskState::kFailed ||
             to == TaskState::kKilled;
    case TaskState::kBuilding:
      return to == TaskState::kPending || to == TaskState::kFailed || to == TaskState::kKilled;
    case TaskState::kRunning:
      return to == TaskState::kFinished || to == TaskState::kFailed || to == TaskState::kKilled ||
             to == TaskState::kPending;
    case TaskState::kFailed:
      return to == TaskState::kPending;
    case TaskState::kFinished:
    case TaskState::kKilled:
      return false;
  }
  return false;
}

std::string format_task_id(TaskType type, double now, int64_t n) {
  const double seconds = std::fmod(std::floor(now * 1e4) / 1e4, 10000.0);
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%c_%.4f_%lld", type == TaskType::kTrain ? 'T' : 'A',
                seconds, static_cast<long long>(n));
  return buffer;
}

bool TaskRecord::operator==(const TaskRecord& o) const {
  return id == o.id && type == o.type && state == o.state && args == o.args &&
         package_dir == o.package_dir && script_path == o.script_path &&
         description == o.description && memory_mb == o.memory_mb && cpu == o.cpu &&
         multi_gpu == o.multi_gpu && ddp == o.ddp && nproc == o.nproc && load_ckpt == o.load_ckpt &&
         checkpoint_id == o.checkpoint_id && devices == o.devices && submit_time == o.submit_time &&
         start_time == o.start_time && end_time == o.end_time && exit_code == o.exit_code &&
         pid == o.pid && pid_start_ticks == o.pid_start_ticks && restarts == o.restarts &&
         max_restarts == o.max_restarts && error == o.error && project_dir == o.project_dir &&
         needs_build == o.needs_build && delete_requested == o.delete_requested &&
         peak_memory_mb == o.peak_memory_mb && memory_source == o.memory_source &&
         config_digest == o.config_digest;
}

Json task_to_json(const TaskRecord& task) {
  Json json = {{"ID", task.id},
               {"args", task.args},
               {"devices", task.devices},
               {"memory_consumption", task.memory_mb},
               {"multi_GPU", task.multi_gpu},
               {"DDP", task.ddp},
               {"type", task_type_name(task.type)},
               {"status", task_state_name(task.state)},
               {"load_ckpt", task.load_ckpt},
               {"checkpoint_ID", task.checkpoint_id},
               {"description", task.description}};
  if (task.type == TaskType::kAnalyze) {
    json["record_path"] = task.package_dir;
    json["script_path"] = task.script_path;
  }
  json["package_dir"] = task.package_dir;
  json["CPU"] = task.cpu;
  json["nproc"] = task.nproc;
  json["submit_time"] = task.submit_time;
  json["start_time"] = task.start_time;
  json["end_time"] = task.end_time;
  json["exit_code"] = task.exit_code ? Json(*task.exit_code) : Json(nullptr);
  json["pid"] = task.pid;
  json["pid_start_ticks"] = task.pid_start_ticks;
  json["restarts"] = task.restarts;
  json["max_restarts"] = task.max_restarts;
  json["error"] = task.error;
  json["project_dir"] = task.project_dir;
  json["needs_build"] = task.needs_build;
  json["delete_requested"] = task.delete_requested;
  json["peak_memory_mb"] = task.peak_memory_mb;
  json["memory_source"] = task.memory_source;
  json["config_digest"] = task.config_digest;
  return json;
}

Result<TaskRecord> task_from_json(const Json& json) {
  if (!json.is_object()) return Status::invalid_argument("a task must be a JSON object");
  TaskRecord task;
  std::string type, state;
  DLNEST_RETURN_IF_ERROR(read_field(json, "ID", task.id));
  DLNEST_RETURN_IF_ERROR(read_field(json, "args", task.args));
  DLNEST_RETURN_IF_ERROR(read_field(json, "devices", task.devices));
  DLNEST_RETURN_IF_ERROR(read_field(json, "memory_consumption", task.memory_mb));
  DLNEST_RETURN_IF_ERROR(read_field(json, "multi_GPU", task.multi_gpu));
  DLNEST_RETURN_IF_ERROR(read_field(json, "DDP", task.ddp));
  DLNEST_RETURN_IF_ERROR(read_field(json, "type", type));
  DLNEST_RETURN_IF_ERROR(read_field(json, "status", state));
  DLNEST_RETURN_IF_ERROR(read_field(json, "load_ckpt", task.load_ckpt));
  DLNEST_RETURN_IF_ERROR(read_field(json, "checkpoint_ID", task.checkpoint_id));
  DLNEST_RETURN_IF_ERROR(read_field(json, "description", task.description));
  Result<TaskType> parsed_type = parse_task_type(type);
  if (!parsed_type.is_ok()) return parsed_type.status();
  Result<TaskState> parsed_state = parse_task_state(state);
  if (!parsed_state.is_ok()) return parsed_state.status();
  task.type = *parsed_type;
  task.state = *parsed_state;
  if (task.type == TaskType::kAnalyze) {
    DLNEST_RETURN_IF_ERROR(read_field(json, "script_path", task.script_path));
  }
  DLNEST_RETURN_IF_ERROR(read_new_fields(json, task));
  return task;
}

}  // namespace dlnest
