// `-m auto`: a task's GPU memory estimate from the measured peak of an earlier task of the same
// project and config (docs/scheduler.md, "Measured memory and -m auto"). Pure code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "dlnest/config.h"  // Json
#include "dlnest/status.h"
#include "state/task_record.h"

namespace dlnest {

/// The margin over the last peak, in percent: the estimate is peak x 1.2 ...
inline constexpr int64_t kAutoMemoryMarginPercent = 120;
/// ... rounded up to a multiple of 256 MB.
inline constexpr int64_t kAutoMemoryStepMb = 256;
/// The memory_consumption value (and `-m` value) that asks for the estimate from the peak.
inline constexpr const char* kAutoMemory = "auto";

/// What a request's memory_consumption asks for: a number of MB, -1 (the default) or auto.
struct MemoryRequest {
  int64_t mb = kDefaultMemoryMb;  ///< meaningless when `automatic`
  bool automatic = false;
};

/// Parses memory_consumption: "auto", a positive whole number of MB, or -1 (the default).
/// Anything else ("autox", 0, -5, "12MB") is InvalidArgument naming memory_consumption and the
/// value.
Result<MemoryRequest> parse_memory_request(const std::string& text);

/// The key of "the same project and config": a digest of the task's type and its merged args
/// without the keys every package sets anew (`root_file_path`, the package's own folder, and
/// `seed`). The project is part of the args: `save_root` (absolute) and the file paths and class
/// names its config names. 16 lower-case hex digits.
std::string config_digest(TaskType type, const Json& args);

/// The estimate from a measured peak: peak x kAutoMemoryMarginPercent / 100, rounded up to a
/// multiple of kAutoMemoryStepMb (at least one step).
int64_t auto_estimate_mb(int64_t peak_mb);

/// A task's memory estimate and where it came from (TaskRecord::memory_source).
struct MemoryChoice {
  int64_t memory_mb = kDefaultMemoryMb;
  std::string source;
};

/// The estimate for `request`: the number given ("given"), the scheduler's default ("default"),
/// or for auto the estimate from `last`'s peak ("auto: peak 3120 MB of T_.. x1.2, rounded up to
/// 256 MB"), or the default when there is no such task ("auto: no peak recorded for this project
/// and config; the default").
MemoryChoice choose_memory(const MemoryRequest& request, const std::optional<TaskRecord>& last);

}  // namespace dlnest
