#include "server/task_end.h"

namespace dlnest {
namespace {

std::string exit_text(const ExitInfo& exit) {
  std::string text = exit.exit_code ? "exited with code " + std::to_string(*exit.exit_code) : "";
  if (!exit.detail.empty()) text += (text.empty() ? "" : "; ") + exit.detail;
  return text;
}

TaskEnd ended(TaskState state, std::string error) {
  TaskEnd end;
  end.state = state;
  end.error = std::move(error);
  return end;
}

TaskEnd requeued(bool built) {
  TaskEnd end;
  end.kind = TaskEnd::Kind::kRequeue;
  end.built = built;
  return end;
}

TaskEnd build_end(const ExitInfo& exit, const std::string& build_error) {
  if (exit.exit_code && *exit.exit_code == 0) return requeued(/*built=*/true);
  const std::string detail = exit_text(exit);
  if (build_error.empty()) return ended(TaskState::kFailed, "build failed: " + detail);
  return ended(TaskState::kFailed, "build failed: " + build_error);
}

}  // namespace

TaskEnd decide_end(const TaskRecord& task, const ExitInfo& exit, const std::string& build_error) {
  if (task.delete_requested || exit.terminated) {
    return ended(TaskState::kKilled,
                 "deleted" + (exit.detail.empty() ? "" : " (" + exit.detail + ")"));
  }
  if (exit.never_started()) return requeued(/*built=*/false);
  if (task.state == TaskState::kBuilding) return build_end(exit, build_error);
  if (exit.exit_code && *exit.exit_code == 0) return ended(TaskState::kFinished, "");
  TaskEnd end = ended(TaskState::kFailed, exit_text(exit));
  end.restart = task.restarts < task.max_restarts;
  return end;
}

ExitInfo exit_found_after_restart(std::optional<int> exit_code) {
  ExitInfo exit;
  exit.exit_code = exit_code;
  exit.detail = exit_code ? "ended while no server was running"
                          : "its process ended while no server was running; exit code unknown";
  return exit;
}

}  // namespace dlnest
