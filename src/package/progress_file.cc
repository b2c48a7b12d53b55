#include "package/progress_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "dlnest/env.h"
#include "env/path.h"
#include "env/regular_file.h"

namespace dlnest {

namespace {

using Clock = std::chrono::steady_clock;

Status write_all(int fd, const std::string& data, const std::string& file) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::io_error("cannot write " + file + ": " + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  return Status::ok();
}

/// A finite number at `key`, else nothing.
std::optional<double> number_at(const Json& p, const char* key) {
  const auto it = p.find(key);
  if (it == p.end() || !it->is_number()) return std::nullopt;
  const double v = it->get<double>();
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

/// A whole number at `key` in a sane range, else nothing.
std::optional<long long> count_at(const Json& p, const char* key) {
  const std::optional<double> v = number_at(p, key);
  if (!v || *v < 0 || *v > 1e15) return std::nullopt;
  return static_cast<long long>(*v);
}

/// `text` without control characters (C0, DEL and UTF-8-encoded C1), at most `max` bytes, not
/// cut inside a UTF-8 sequence.
std::string printable(const std::string& text, size_t max) {
  std::string out;
  for (size_t i = 0; i < text.size() && out.size() <= max; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) continue;
    if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      ++i;
      continue;
    }
    out += static_cast<char>(c);
  }
  if (out.size() > max) {
    size_t end = max;  // the first byte dropped: not inside a sequence
    while (end > 0 && (static_cast<unsigned char>(out[end]) & 0xc0) == 0x80) --end;
    out.resize(end);
  }
  return out;
}

std::string text_at(const Json& p, const char* key, size_t max) {
  const auto it = p.find(key);
  return it != p.end() && it->is_string() ? printable(it->get<std::string>(), max) : "";
}

std::string percent(double fraction) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.0f%%", std::clamp(fraction, 0.0, 1.0) * 100);
  return buf;
}

std::string fixed(const char* format, double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

/// "epoch 3/4" (`prefix` "epoch ") or "e 3/4"; "" when the record has no epoch.
std::string epoch_text(const Json& p, const char* prefix) {
  const std::optional<long long> epoch = count_at(p, "epoch");
  if (!epoch) return "";
  std::string out = prefix + std::to_string(*epoch + 1);
  if (const std::optional<long long> epochs = count_at(p, "epochs")) {
    out += "/" + std::to_string(*epochs);
  }
  return out;
}

constexpr size_t kMaxStageText = 16;
constexpr size_t kMaxNameText = 32;
constexpr size_t kMaxScalarsShown = 4;

}  // namespace

std::string format_eta(double seconds) {
  const long long total = static_cast<long long>(std::max(0.0, std::min(seconds, 1e12)) + 0.5);
  char buf[48];
  if (total >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", total / 3600, total / 60 % 60, total % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", total / 60, total % 60);
  }
  return buf;
}

std::string format_progress_line(const Json& p) {
  if (!p.is_object()) return "";
  const std::string stage = text_at(p, "stage", kMaxStageText);
  std::vector<std::string> parts;
  if (stage == progress_stage::kBuild) {
    std::string build = "build";
    const std::optional<long long> done = count_at(p, "done");
    const std::optional<long long> total = count_at(p, "total");
    if (done && total) build += " " + std::to_string(*done) + "/" + std::to_string(*total);
    if (const std::optional<double> f = number_at(p, "fraction")) {
      build += " (" + percent(*f) + ")";
    }
    parts.push_back(build);
    const std::string phase = text_at(p, "phase", kMaxNameText);
    if (!phase.empty()) parts.push_back(phase);
  } else {
    const std::string epoch = epoch_text(p, "epoch ");
    if (!epoch.empty()) parts.push_back(epoch);
    const std::optional<long long> step = count_at(p, "step");
    const std::optional<long long> steps = count_at(p, "steps_per_epoch");
    if (step && steps) parts.push_back(std::to_string(*step) + "/" + std::to_string(*steps));
    if (const std::optional<double> rate = number_at(p, "it_per_s")) {
      parts.push_back(fixed("%.1f it/s", *rate));
    }
    const std::optional<double> eta_epoch = number_at(p, "eta_epoch_s");
    const std::optional<double> eta_run = number_at(p, "eta_run_s");
    if (stage == progress_stage::kTrain && eta_epoch) {
      parts.push_back("ETA " + format_eta(*eta_epoch) +
                      (eta_run ? " (run " + format_eta(*eta_run) + ")" : ""));
    }
    if (!stage.empty() && stage != progress_stage::kTrain) parts.push_back(stage);
    const auto scalars = p.find("scalars");
    if (scalars != p.end() && scalars->is_object()) {
      size_t shown = 0;
      for (const auto& [name, value] : scalars->items()) {
        if (shown == kMaxScalarsShown) break;
        if (!value.is_number() || !std::isfinite(value.get<double>())) continue;
        parts.push_back(printable(name, kMaxNameText) + " " + fixed("%.4g", value.get<double>()));
        ++shown;
      }
    }
  }
  std::string line;
  for (const std::string& part : parts) line += (line.empty() ? "" : " | ") + part;
  return line;
}

std::string format_progress_cell(const Json& p) {
  if (!p.is_object()) return "-";
  const std::string stage = text_at(p, "stage", kMaxStageText);
  if (stage == progress_stage::kBuild) {
    const std::optional<double> f = number_at(p, "fraction");
    return f ? "build " + percent(*f) : "build";
  }
  std::string cell = epoch_text(p, "e ");
  const auto add = [&cell](const std::string& part) {
    if (!part.empty()) cell += (cell.empty() ? "" : " ") + part;
  };
  if (stage != progress_stage::kTrain) {
    add(stage.empty() ? "?" : stage);
    return cell;
  }
  const std::optional<long long> step = count_at(p, "step");
  const std::optional<long long> steps = count_at(p, "steps_per_epoch");
  if (step && steps && *steps > 0) add(percent(static_cast<double>(*step) / *steps));
  if (const std::optional<double> rate = number_at(p, "it_per_s")) add(fixed("%.1fit/s", *rate));
  std::optional<double> eta = number_at(p, "eta_run_s");
  if (!eta) eta = number_at(p, "eta_epoch_s");
  if (eta) add("ETA " + format_eta(*eta));
  return cell.empty() ? stage : cell;
}

double unix_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status write_progress_file(const std::string& dir, const Json& progress) {
  const std::string file = path::join(dir, kProgressFile);
  const std::string tmp = file + std::string(kTempSuffix);
  const std::string text = progress.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
  {
    DLNEST_ASSIGN_OR_RETURN(UniqueFd fd, open_regular_file(tmp, O_WRONLY | O_CREAT | O_TRUNC));
    Status s = write_all(fd.get(), text, tmp);
    if (s.is_ok() && ::close(fd.release()) != 0) {
      s = Status::io_error("cannot write " + tmp + ": " + std::strerror(errno));
    }
    if (!s.is_ok()) {
      ::unlink(tmp.c_str());
      return s;
    }
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    const int error = errno;
    ::unlink(tmp.c_str());
    return Status::io_error("cannot replace " + file + ": " + std::strerror(error));
  }
  return Status::ok();
}

ProgressFile::ProgressFile(std::string dir, std::chrono::milliseconds interval)
    : dir_(std::move(dir)), interval_(interval), thread_([this] { run(); }) {}

ProgressFile::~ProgressFile() {
  std::optional<Json> last;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    last = std::move(pending_);
  }
  if (last) {
    close(std::move(*last));
  } else {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
}

void ProgressFile::publish(Json progress) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) return;
    pending_ = std::move(progress);
  }
  wake_.notify_all();
}

Status ProgressFile::close(Json last) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return Status::ok();
    closing_ = true;
    closed_ = true;
    pending_.reset();
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  return write(last);
}

int64_t ProgressFile::writes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return writes_;
}

void ProgressFile::run() {
  std::unique_lock<std::mutex> lock(mu_);
  Clock::time_point next = Clock::now();
  for (;;) {
    wake_.wait(lock, [this] { return closing_ || pending_.has_value(); });
    if (closing_) return;
    // At most one write per interval: what arrives meanwhile replaces what waits.
    if (wake_.wait_until(lock, next, [this] { return closing_; })) return;
    Json progress = std::move(*pending_);
    pending_.reset();
    next = Clock::now() + interval_;
    lock.unlock();
    write(progress);
    lock.lock();
  }
}

Status ProgressFile::write(const Json& progress) {
  std::lock_guard<std::mutex> serial(write_mu_);
  const Status s = write_progress_file(dir_, progress);
  std::lock_guard<std::mutex> lock(mu_);
  if (s.is_ok()) {
    ++writes_;
  } else if (!warned_) {
    warned_ = true;
    std::fprintf(stderr, "[dlnest] warning: cannot write the progress file: %s\n",
                 s.message().c_str());
  }
  return s;
}

}  // namespace dlnest
