// The build stage's progress: `dlnest build-package` follows the build's output (the "[build]"
// lines of build_package() and ninja's "[n/m]" lines) and keeps the package's progress.json
// current with stage "build" (docs/training.md, "Progress").
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "dlnest/config.h"  // Json
#include "package/progress_file.h"

namespace dlnest {

class BuildProgress {
 public:
  /// Reports to `file` (nullptr: only record()); `unix_now` stamps "updated_at".
  explicit BuildProgress(ProgressFile* file, int pid,
                         std::function<double()> unix_now = unix_time_now);

  /// The build begins: phase "staging".
  void start();
  /// Output of the build as it comes, in pieces of any size.
  void feed(std::string_view text);
  /// The build ended: phase "built" (fraction 1), or stage "failed". The last write.
  void finish(bool built);

  /// progress.json as it stands: {"stage": "build", "phase", "done", "total", "fraction",
  /// "updated_at", "pid"} (done, total and fraction null until ninja counts).
  Json record() const;

 private:
  void line(std::string_view text);
  void publish();

  ProgressFile* file_;
  int pid_;
  std::function<double()> unix_now_;
  std::string stage_ = progress_stage::kBuild;
  std::string phase_ = "staging";
  std::optional<long long> done_;
  std::optional<long long> total_;
  std::string partial_;  // the line being received
};

}  // namespace dlnest
