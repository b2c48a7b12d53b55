#include "metrics/metrics_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "dlnest/config.h"
#include "dlnest/env.h"
#include "env/path.h"

namespace dlnest {
namespace {

constexpr char kCsvHeader[] = "kind,epoch,step,time,name,value\n";

const char* kind_name(MetricsKind kind) {
  return kind == MetricsKind::kStep ? "step" : "epoch";
}

/// A CSV field: quoted when it holds a comma, quote or line break (RFC 4180).
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string number(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string csv_rows(const MetricsRecord& r) {
  std::string rows;
  char time[32];
  std::snprintf(time, sizeof time, "%.3f", r.time);
  for (const auto& [name, value] : r.values) {
    rows += std::string(kind_name(r.kind)) + "," + std::to_string(r.epoch) + "," +
            std::to_string(r.step) + "," + time + "," + csv_field(name) + "," + number(value) +
            "\n";
  }
  return rows;
}

Status append_all(int fd, const std::string& path, const std::string& text) {
  if (text.empty()) return Status::ok();
  const ssize_t n = ::write(fd, text.data(), text.size());
  if (n == static_cast<ssize_t>(text.size())) return Status::ok();
  return Status::io_error("cannot write " + path + ": " +
                          (n < 0 ? std::strerror(errno) : "short write (disk full?)"));
}

Result<UniqueFd> open_append(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid()) return Status::io_error("cannot open " + path + ": " + std::strerror(errno));
  return fd;
}

/// The global step of a metrics.jsonl line; nullopt when it has none (kept as it is).
std::optional<int64_t> json_line_step(const std::string& line) {
  const Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("step") || !j["step"].is_number_integer()) return std::nullopt;
  return j["step"].get<int64_t>();
}

/// The global step of a metrics.csv row (its third field); nullopt for the header.
std::optional<int64_t> csv_line_step(const std::string& line) {
  const size_t a = line.find(',');
  const size_t b = a == std::string::npos ? a : line.find(',', a + 1);
  const size_t c = b == std::string::npos ? b : line.find(',', b + 1);
  if (c == std::string::npos) return std::nullopt;
  char* end = nullptr;
  const std::string field = line.substr(b + 1, c - b - 1);
  const long long step = std::strtoll(field.c_str(), &end, 10);
  if (field.empty() || *end != '\0') return std::nullopt;
  return step;
}

/// Rewrites `path` without the lines whose step (by `step_of`) is after `last_step`; an
/// incomplete last line (a crash in the middle of a write) is dropped too. Streams: the file
/// may be large.
template <typename StepOf>
Status drop_after(const std::string& path, int64_t last_step, StepOf step_of) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::ok();  // nothing logged yet
  const std::string temp = path + ".dropping";
  std::ofstream out(temp, std::ios::binary | std::ios::trunc);
  bool dropped = false;
  for (std::string line; std::getline(in, line);) {
    const bool torn = in.eof();  // no newline after it
    const std::optional<int64_t> step = step_of(line);
    if (torn || (step && *step > last_step)) {
      dropped = true;
      continue;
    }
    out << line << '\n';
  }
  out.close();
  if (!out) {
    std::remove(temp.c_str());
    return Status::io_error("cannot write " + temp + " (disk full?)");
  }
  if (!dropped) {
    std::remove(temp.c_str());
    return Status::ok();
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return Status::io_error("cannot replace " + path + ": " + std::strerror(errno));
  }
  return Status::ok();
}

}  // namespace

std::string metrics_json_line(const MetricsRecord& record) {
  Json values = Json::object();
  for (const auto& [name, value] : record.values) {
    values[name] = std::isfinite(value) ? Json(value) : Json(nullptr);
  }
  const Json line = {{"kind", kind_name(record.kind)},
                     {"epoch", record.epoch},
                     {"step", record.step},
                     {"time", record.time},
                     {"values", std::move(values)}};
  return line.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<std::unique_ptr<MetricsLog>> MetricsLog::open(const std::string& package_dir,
                                                     std::optional<int64_t> resume_after_step,
                                                     double wall_time) {
  std::unique_ptr<MetricsLog> log(new MetricsLog());
  log->json_path_ = path::join(package_dir, kJsonFile);
  log->csv_path_ = path::join(package_dir, kCsvFile);
  if (resume_after_step) {
    DLNEST_RETURN_IF_ERROR(drop_after(log->json_path_, *resume_after_step, json_line_step));
    DLNEST_RETURN_IF_ERROR(drop_after(log->csv_path_, *resume_after_step, csv_line_step));
  }
  const bool new_csv = !Env::default_env()->file_exists(log->csv_path_);
  DLNEST_ASSIGN_OR_RETURN(log->json_, open_append(log->json_path_));
  DLNEST_ASSIGN_OR_RETURN(log->csv_, open_append(log->csv_path_));
  if (new_csv) DLNEST_RETURN_IF_ERROR(append_all(log->csv_.get(), log->csv_path_, kCsvHeader));
  const int64_t restart = resume_after_step ? *resume_after_step + 1 : -1;
  DLNEST_ASSIGN_OR_RETURN(
      EventFileWriter events,
      EventFileWriter::create(path::join(package_dir, kTensorBoardDir), wall_time, restart));
  log->events_ = std::move(events);
  return log;
}

Status MetricsLog::write(const MetricsRecord& record) {
  DLNEST_RETURN_IF_ERROR(
      append_all(json_.get(), json_path_, metrics_json_line(record) + "\n"));
  DLNEST_RETURN_IF_ERROR(append_all(csv_.get(), csv_path_, csv_rows(record)));
  const std::string prefix = record.kind == MetricsKind::kEpoch ? "epoch/" : "";
  for (const auto& [name, value] : record.values) {
    DLNEST_RETURN_IF_ERROR(events_->add_scalar(record.time, record.step, prefix + name,
                                               static_cast<float>(value)));
  }
  return Status::ok();
}

}  // namespace dlnest
