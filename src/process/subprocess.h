// Running a child process and collecting its output (used to build projects).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "dlnest/status.h"

namespace dlnest {

struct ProcessResult {
  int exit_code = -1;  ///< the exit status, or 128 + signal when killed by one
  std::string output;  ///< stdout and stderr, merged
};

/// Where run_process() puts the child: in a process group of its own, or in the caller's, so
/// that a signal to the caller's group (a supervisor stopping a task) reaches the child too.
enum class ProcessGroup { kNew, kInherit };

/// Runs `argv` in `cwd` in its own process group (or the caller's), stdin from /dev/null, stdout
/// and stderr merged into one pipe. `on_output` (optional) sees the output as it comes. Fails
/// only when the program cannot be started; a non-zero exit is reported in the result.
Result<ProcessResult> run_process(const std::vector<std::string>& argv, const std::string& cwd,
                                  const std::function<void(std::string_view)>& on_output = {},
                                  ProcessGroup group = ProcessGroup::kNew);

}  // namespace dlnest
