// The progress line of a foreground run: epoch, step/total, it/s, ETA, latest loss.
#pragma once

#include <chrono>
#include <string>

#include "sdk/trainer.h"
#include "worker/output.h"

namespace dlnest {

/// "epoch 3 | 120/938 | 45.2 it/s | ETA 0:18 | loss 0.3521" (no rate and ETA while `rate` is 0).
std::string format_progress(const StepProgress& progress, double rate);

/// Draws the progress line at most ten times a second.
class ProgressLine {
 public:
  explicit ProgressLine(WorkerOutput& output) : output_(output) {}
  void update(const StepProgress& progress);
  void end_epoch();

 private:
  using Clock = std::chrono::steady_clock;
  WorkerOutput& output_;
  int epoch_ = -1;
  Clock::time_point first_step_done_;
  Clock::time_point last_draw_;
};

}  // namespace dlnest
