#include "worker/progress.h"

#include <algorithm>
#include <type_traits>
#include <utility>

namespace dlnest {

namespace {

/// How often the terminal's line is redrawn and progress.json handed a new state at most (the
/// file itself is written at most every kProgressInterval).
constexpr std::chrono::milliseconds kRedrawInterval(100);
constexpr std::chrono::milliseconds kPublishInterval(50);

template <typename P, typename = void>
struct HasScalars : std::false_type {};
template <typename P>
struct HasScalars<P, std::void_t<decltype(std::declval<const P&>().scalars)>> : std::true_type {};

/// The tenth of an epoch of `steps` that `step` steps reached.
int tenth_of(int64_t step, int64_t steps) {
  return steps > 0 ? static_cast<int>(std::clamp<int64_t>(step, 0, steps) *
                                      TrainingProgress::kLinesPerEpoch / steps)
                   : 0;
}

Json optional_json(const std::optional<double>& v) { return v ? Json(*v) : Json(); }

}  // namespace

std::map<std::string, double> step_scalars(const StepProgress& progress) {
  std::map<std::string, double> out;
  if constexpr (HasScalars<StepProgress>::value) {
    for (const auto& [name, value] : progress.scalars) out.emplace(name, value);
  }
  if (progress.loss) out.emplace("loss", *progress.loss);
  return out;
}

TrainingProgress::TrainingProgress(ProgressSinks sinks) : sinks_(std::move(sinks)) {}

void TrainingProgress::start() {
  last_line_ = sinks_.now();
  publish(true);
}

void TrainingProgress::step(const StepProgress& p) {
  const Clock::time_point now = sinks_.now();
  if (!epoch_ || *epoch_ != p.epoch) {
    epoch_ = p.epoch;
    epoch_first_step_ = p.step;
    epoch_first_done_ = now;
    line_tenth_ = tenth_of(p.step - 1, p.steps);
  }
  stage_ = progress_stage::kTrain;
  step_ = p.step;
  steps_ = p.steps;
  scalars_ = step_scalars(p);
  const std::chrono::duration<double> elapsed = now - epoch_first_done_;
  if (p.step > epoch_first_step_ && elapsed.count() > 0) {
    rate_ = static_cast<double>(p.step - epoch_first_step_) / elapsed.count();
  }
  if (sinks_.terminal != nullptr && sinks_.terminal->has_terminal() &&
      (now - last_draw_ >= kRedrawInterval || p.step == p.steps)) {
    last_draw_ = now;
    sinks_.terminal->show_progress(format_progress_line(record()));
  }
  const int tenth = tenth_of(p.step, p.steps);
  if (sinks_.lines != nullptr && (tenth > line_tenth_ || now - last_line_ >= kLineInterval)) {
    line_tenth_ = tenth;
    print_line(now);
  }
  publish(false);
}

void TrainingProgress::end_epoch() {
  const Clock::time_point now = sinks_.now();
  if (last_epoch_end_) epoch_seconds_ = std::chrono::duration<double>(now - *last_epoch_end_).count();
  last_epoch_end_ = now;
  if (sinks_.terminal != nullptr) sinks_.terminal->clear_progress();
  publish(true);
}

void TrainingProgress::stage(const std::string& name) {
  stage_ = name;
  publish(true);
}

void TrainingProgress::finish(const std::string& stage) {
  stage_ = stage;
  finished_ = stage == progress_stage::kFinished;
  if (sinks_.terminal != nullptr) sinks_.terminal->clear_progress();
  if (sinks_.file != nullptr) sinks_.file->close(record());
}

std::optional<double> TrainingProgress::seconds_per_epoch() const {
  if (epoch_seconds_) return epoch_seconds_;
  if (rate_ && *rate_ > 0 && steps_ > 0) return static_cast<double>(steps_) / *rate_;
  return std::nullopt;
}

Json TrainingProgress::record() const {
  const bool counted = epoch_.has_value();
  std::optional<double> eta_epoch;
  std::optional<double> eta_run;
  std::optional<double> fraction;
  if (finished_) {
    eta_epoch = eta_run = 0.0;
    fraction = 1.0;
  } else if (counted && stage_ != progress_stage::kInterrupted &&
             stage_ != progress_stage::kFailed) {
    if (rate_ && *rate_ > 0) eta_epoch = static_cast<double>(steps_ - step_) / *rate_;
    const std::optional<double> per_epoch = seconds_per_epoch();
    if (sinks_.epochs && eta_epoch && per_epoch) {
      const int left = std::max(0, *sinks_.epochs - *epoch_ - 1);
      eta_run = *eta_epoch + left * *per_epoch;
    }
  }
  if (!finished_ && counted && sinks_.epochs && *sinks_.epochs > 0) {
    const double in_epoch = steps_ > 0 ? static_cast<double>(step_) / steps_ : 0.0;
    fraction = std::min(1.0, (*epoch_ + in_epoch) / *sinks_.epochs);
  }
  Json scalars = Json::object();
  for (const auto& [name, value] : scalars_) scalars[name] = value;
  return Json{{"stage", stage_},
              {"epoch", counted ? Json(*epoch_) : Json()},
              {"epochs", sinks_.epochs ? Json(*sinks_.epochs) : Json()},
              {"step", counted ? Json(step_) : Json()},
              {"steps_per_epoch", counted ? Json(steps_) : Json()},
              {"it_per_s", optional_json(rate_)},
              {"eta_epoch_s", optional_json(eta_epoch)},
              {"eta_run_s", optional_json(eta_run)},
              {"fraction", optional_json(fraction)},
              {"scalars", std::move(scalars)},
              {"updated_at", sinks_.unix_now()},
              {"pid", sinks_.pid}};
}

void TrainingProgress::publish(bool force) {
  if (sinks_.file == nullptr) return;
  const Clock::time_point now = sinks_.now();
  if (!force && published_ && now - last_publish_ < kPublishInterval) return;
  published_ = true;
  last_publish_ = now;
  sinks_.file->publish(record());
}

void TrainingProgress::print_line(Clock::time_point now) {
  last_line_ = now;
  *sinks_.lines << "[dlnest] " << format_progress_line(record()) << std::endl;
}

}  // namespace dlnest
