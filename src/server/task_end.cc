#include "server/task_end.h"

#include "server/task_output.h"

namespace dlnest {
namespace {

/// How much of the end of a task's output failure_reason_in_file reads.
constexpr size_t kReasonTail = 16 * 1024;

/// The prefixes of the error lines that workers and analyzers print last when they fail.
constexpr const char* kErrorPrefixes[] = {
    "[dlnest] error: ", "dlnest-worker: error: ", "[DLNest Analyze Process] [Error] "};
/// The line a training worker prints when a signal stopped it; kept whole, without "[dlnest] ".
constexpr const char* kInterruptLine = "[dlnest] interrupted ";

std::string exit_text(const ExitInfo& exit) {
  std::string text = exit.exit_code ? "exited with code " + std::to_string(*exit.exit_code) : "";
  if (!exit.detail.empty() && exit.detail != text) text += (text.empty() ? "" : "; ") + exit.detail;
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

TaskEnd decide_end(const TaskRecord& task, const ExitInfo& exit, const std::string& reason) {
  if (task.delete_requested || exit.terminated) {
    const bool saved = reason.rfind("interrupted ", 0) == 0;  // where the run stopped
    return ended(TaskState::kKilled, "deleted" +
                                         (exit.detail.empty() ? "" : " (" + exit.detail + ")") +
                                         (saved ? ": " + reason : ""));
  }
  if (exit.never_started()) return requeued(/*built=*/false);
  if (task.state == TaskState::kBuilding) return build_end(exit, reason);
  if (exit.exit_code && *exit.exit_code == 0) return ended(TaskState::kFinished, "");
  const std::string how = exit_text(exit);
  TaskEnd end = ended(TaskState::kFailed, reason.empty() ? how : reason + " (" + how + ")");
  end.restart = task.restarts < task.max_restarts;
  return end;
}

std::string failure_reason(const std::string& output) {
  std::string reason;
  size_t begin = 0;
  while (begin < output.size()) {
    size_t end = output.find('\n', begin);
    if (end == std::string::npos) end = output.size();
    const std::string line = output.substr(begin, end - begin);
    if (line.rfind(kInterruptLine, 0) == 0) reason = line.substr(line.find(' ') + 1);
    for (const char* prefix : kErrorPrefixes) {
      if (line.rfind(prefix, 0) == 0 && line.size() > std::char_traits<char>::length(prefix)) {
        reason = line.substr(std::char_traits<char>::length(prefix));
      }
    }
    begin = end + 1;
  }
  return reason;
}

std::string failure_reason_in_file(const std::string& output_file) {
  Result<OutputChunk> tail = read_output_file(output_file, std::nullopt, kReasonTail);
  return tail.is_ok() ? failure_reason(tail->text) : "";
}

ExitInfo exit_found_after_restart(std::optional<int> exit_code) {
  ExitInfo exit;
  exit.exit_code = exit_code;
  exit.detail = exit_code ? "ended while no server was running"
                          : "its process ended while no server was running; exit code unknown";
  return exit;
}

}  // namespace dlnest
