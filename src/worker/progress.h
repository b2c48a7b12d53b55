// A training's progress as the worker shows it: progress.json in the package (rank 0), the
// redrawn line at a terminal, and progress lines in the output when stdout is not a terminal
// (docs/training.md, "Progress").
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>

#include "dlnest/config.h"  // Json
#include "package/progress_file.h"
#include "sdk/trainer.h"
#include "worker/output.h"

namespace dlnest {

/// Where the progress goes, and the clocks it is measured with (seams for tests).
struct ProgressSinks {
  using Clock = std::chrono::steady_clock;
  ProgressFile* file = nullptr;       ///< progress.json; nullptr: not written (ranks above 0)
  WorkerOutput* terminal = nullptr;   ///< a redrawn line when it has a terminal
  std::ostream* lines = nullptr;      ///< progress lines, every 10% of an epoch or 30 s
  std::optional<int> epochs;          ///< the run's epochs, when known
  int pid = 0;                        ///< progress.json's "pid"
  std::function<Clock::time_point()> now = [] { return Clock::now(); };
  std::function<double()> unix_now = unix_time_now;
};

/// The latest logged scalars of a step: `scalars` where the trainer reports them, and `loss`.
std::map<std::string, double> step_scalars(const StepProgress& progress);

/// Follows a training through the trainer's callbacks and reports it to the sinks.
class TrainingProgress {
 public:
  using Clock = ProgressSinks::Clock;
  /// The smallest share of an epoch between two progress lines, and the longest time.
  static constexpr int kLinesPerEpoch = 10;
  static constexpr std::chrono::seconds kLineInterval{30};

  explicit TrainingProgress(ProgressSinks sinks);

  /// The run starts: stage "train", nothing counted yet.
  void start();
  /// After every training step (TrainRequest::on_step).
  void step(const StepProgress& progress);
  /// The epoch's steps are done (TrainRequest::on_epoch_end).
  void end_epoch();
  /// The epoch's validation or save begins (TrainRequest::on_stage).
  void stage(const std::string& name);
  /// The run ended: "finished", "interrupted" or "failed". The last write of progress.json.
  void finish(const std::string& stage);

  /// progress.json as it stands.
  Json record() const;

 private:
  void publish(bool force);
  void print_line(Clock::time_point now);
  std::optional<double> seconds_per_epoch() const;

  ProgressSinks sinks_;
  std::string stage_ = progress_stage::kTrain;
  std::optional<int> epoch_;
  int64_t step_ = 0;
  int64_t steps_ = 0;
  std::map<std::string, double> scalars_;
  std::optional<double> rate_;  // steps a second, of this epoch (or the last one at its start)
  // This epoch's rate counts from the end of the first step this process made in it, which
  // carries start-up costs.
  int64_t epoch_first_step_ = 0;
  Clock::time_point epoch_first_done_;
  std::optional<Clock::time_point> last_epoch_end_;
  std::optional<double> epoch_seconds_;  // the last whole epoch: steps, validation and save
  bool finished_ = false;
  Clock::time_point last_publish_;
  bool published_ = false;
  Clock::time_point last_draw_;
  Clock::time_point last_line_;
  int line_tenth_ = 0;  // the last tenth of the epoch a line was printed for
};

}  // namespace dlnest
