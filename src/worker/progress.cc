#include "worker/progress.h"

#include <cstdio>

namespace dlnest {

namespace {

constexpr std::chrono::milliseconds kRedrawInterval(100);

std::string duration_text(double seconds) {
  const long total = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (total >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ld:%02ld", total / 60, total % 60);
  }
  return buf;
}

}  // namespace

std::string format_progress(const StepProgress& progress, double rate) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "epoch %d | %lld/%lld | %.1f it/s", progress.epoch,
                static_cast<long long>(progress.step), static_cast<long long>(progress.steps),
                rate);
  std::string line = buf;
  if (rate > 0) line += " | ETA " + duration_text((progress.steps - progress.step) / rate);
  if (progress.loss) {
    std::snprintf(buf, sizeof buf, " | loss %.4f", *progress.loss);
    line += buf;
  }
  return line;
}

void ProgressLine::update(const StepProgress& progress) {
  const Clock::time_point now = Clock::now();
  if (progress.epoch != epoch_) {
    // The rate counts from the end of the epoch's first step, which includes start-up costs.
    epoch_ = progress.epoch;
    first_step_done_ = now;
  }
  if (now - last_draw_ < kRedrawInterval && progress.step != progress.steps) return;
  last_draw_ = now;
  const std::chrono::duration<double> elapsed = now - first_step_done_;
  const double rate = elapsed.count() > 0 ? (progress.step - 1) / elapsed.count() : 0.0;
  output_.show_progress(format_progress(progress, rate));
}

void ProgressLine::end_epoch() {
  output_.clear_progress();
  epoch_ = -1;
}

}  // namespace dlnest
