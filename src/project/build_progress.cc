#include "project/build_progress.h"

#include <utility>

namespace dlnest {

namespace {

/// The longest line kept while it is received; the rest of a longer one is dropped.
constexpr size_t kMaxLine = 4096;

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

/// Reads "[n/m]" at the start of `text` (ninja's status); false when it is not there.
bool ninja_status(std::string_view text, long long& done, long long& total) {
  if (text.empty() || text[0] != '[') return false;
  size_t i = 1;
  const auto number = [&](long long& out) {
    const size_t begin = i;
    out = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - begin < 12) {
      out = out * 10 + (text[i] - '0');
      ++i;
    }
    return i > begin;
  };
  if (!number(done) || i >= text.size() || text[i] != '/') return false;
  ++i;
  if (!number(total) || i >= text.size() || text[i] != ']') return false;
  return total > 0 && done <= total;
}

}  // namespace

BuildProgress::BuildProgress(ProgressFile* file, int pid, std::function<double()> unix_now)
    : file_(file), pid_(pid), unix_now_(std::move(unix_now)) {}

void BuildProgress::start() { publish(); }

void BuildProgress::feed(std::string_view text) {
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      line(partial_);
      partial_.clear();
    } else if (partial_.size() < kMaxLine) {
      partial_ += c;
    }
  }
}

void BuildProgress::finish(bool built) {
  if (!partial_.empty()) line(partial_);
  partial_.clear();
  if (built) {
    phase_ = "built";
    if (total_) done_ = total_;
  } else {
    stage_ = progress_stage::kFailed;
    phase_ = "build failed";
  }
  if (file_ != nullptr) file_->close(record());
}

void BuildProgress::line(std::string_view text) {
  long long done = 0;
  long long total = 0;
  const std::string before = phase_;
  const std::optional<long long> done_before = done_;
  if (ninja_status(text, done, total)) {
    done_ = done;
    total_ = total;
  } else if (starts_with(text, "[build] waiting for another build")) {
    phase_ = "waiting for another build";
  } else if (starts_with(text, "[build] configuring")) {
    phase_ = "configuring";
  } else if (starts_with(text, "[build] compiling")) {
    phase_ = "compiling";
    done_.reset();
    total_.reset();
  } else if (starts_with(text, "[build] up to date")) {
    phase_ = "up to date";
  } else if (starts_with(text, "[build] staged")) {
    phase_ = "staged";
  } else {
    return;
  }
  if (phase_ != before || done_ != done_before) publish();
}

Json BuildProgress::record() const {
  std::optional<double> fraction;
  if (done_ && total_) fraction = static_cast<double>(*done_) / static_cast<double>(*total_);
  if (phase_ == "up to date" || phase_ == "built") fraction = 1.0;
  return Json{{"stage", stage_},
              {"phase", phase_},
              {"done", done_ ? Json(*done_) : Json()},
              {"total", total_ ? Json(*total_) : Json()},
              {"fraction", fraction ? Json(*fraction) : Json()},
              {"updated_at", unix_now_()},
              {"pid", pid_}};
}

void BuildProgress::publish() {
  if (file_ != nullptr) file_->publish(record());
}

}  // namespace dlnest
