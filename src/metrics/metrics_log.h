// The metrics files of a save package, written by rank 0 of a training: metrics.jsonl (one JSON
// record per line), metrics.csv (one row per value) and TensorBoard event files in tensorboard/.
// docs/training.md documents the schemas. Each record reaches the files with one write(2) per
// file, so a crash loses at most the record being written.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "dlnest/status.h"
#include "env/unique_fd.h"
#include "metrics/event_file.h"

namespace dlnest {

/// What a record is about: one training step, or a whole epoch (aggregated).
enum class MetricsKind { kStep, kEpoch };

/// One line of metrics.jsonl: {"kind":"step"|"epoch","epoch":E,"step":S,"time":T,"values":{...}}.
struct MetricsRecord {
  MetricsKind kind = MetricsKind::kStep;
  int64_t epoch = 0;  ///< the epoch it belongs to
  int64_t step = 0;   ///< the global step: for an epoch record, the last step of the epoch
  double time = 0;    ///< wall-clock seconds
  std::map<std::string, double> values;
};

/// The JSON line of `record` (without the newline); non-finite values are written as null.
std::string metrics_json_line(const MetricsRecord& record);

class MetricsLog {
 public:
  inline static const char* const kJsonFile = "metrics.jsonl";
  inline static const char* const kCsvFile = "metrics.csv";
  inline static const char* const kTensorBoardDir = "tensorboard";

  /// Opens the metrics files of `package_dir` for appending. A run continued from a checkpoint
  /// taken after global step `resume_after_step` first drops the records of later steps (they
  /// are trained again), so that no step appears twice; TensorBoard is told the same by a new
  /// event file that restarts at the next step. nullopt: a fresh run.
  static Result<std::unique_ptr<MetricsLog>> open(const std::string& package_dir,
                                                  std::optional<int64_t> resume_after_step,
                                                  double wall_time);

  /// Appends `record` to the three files; step values go to TensorBoard under their names,
  /// epoch values under "epoch/<name>", both at the record's global step.
  Status write(const MetricsRecord& record);

 private:
  MetricsLog() = default;

  std::string json_path_;
  std::string csv_path_;
  UniqueFd json_;
  UniqueFd csv_;
  std::optional<EventFileWriter> events_;
};

}  // namespace dlnest
