// What a training logs through Runner::log / log_epoch, turned into metrics records: the step
// values read (all of a step's tensors in one copy), the reduced ones averaged over the DDP ranks
// in one collective, the global step counted, and the epoch's aggregates kept. Every rank runs
// it (the collectives need them all); rank 0 writes the records (metrics/metrics_log.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "dlnest/runner.h"
#include "metrics/metrics_log.h"

namespace dlnest {

class MetricsRecorder {
 public:
  /// `comm`: the ranks of a DDP run (nullptr in a single process); `device`: where its
  /// collectives work.
  MetricsRecorder(Communicator* comm, const torch::Device& device) : comm_(comm), device_(device) {}

  /// A new epoch begins: its aggregates start empty.
  void start_epoch() { aggregates_.clear(); }

  /// The step record of the step that just ended in `epoch`, from what `runner` logged in it;
  /// counts the step and folds the values into the epoch's aggregates.
  MetricsRecord step(Runner& runner, int epoch);

  /// The epoch record of `epoch`: the scalars of `log` (numbers, booleans as 0/1, the last
  /// number of each numeric list), then the aggregates of the step values, then what `runner`
  /// logged with log_epoch, then "seconds".
  MetricsRecord epoch_end(Runner& runner, int epoch, double seconds, const Json& log);

  /// The latest value of every name logged with log(), after reduction.
  const std::map<std::string, double>& latest() const { return latest_; }
  /// Steps trained so far, over every epoch and every continued run.
  int64_t global_step() const { return global_step_; }

  /// What a checkpoint keeps, so that a continued run counts steps and aggregates as the
  /// uninterrupted one: {"step": N, "aggregates": {name: {...}}}.
  Json state() const;
  /// Restores state(); throws std::invalid_argument naming what is malformed.
  void restore(const Json& state);
  /// For a checkpoint written before the state existed: the step count only.
  void restore_step(int64_t global_step) { global_step_ = global_step; }

 private:
  struct Aggregate {
    Aggregation aggregation = Aggregation::kMean;
    int64_t count = 0;
    double sum = 0;
    double min = 0;
    double max = 0;
    double last = 0;
  };

  /// The numbers of `values` (tensors read together), the reduced ones averaged over the ranks.
  std::map<std::string, double> resolve(const Runner::LoggedValues& values) const;
  void reduce(const Runner::LoggedValues& values, std::map<std::string, double>& numbers) const;
  static double value_of(const Aggregate& a);

  Communicator* const comm_;
  const torch::Device device_;
  int64_t global_step_ = 0;
  std::map<std::string, Aggregate> aggregates_;
  std::map<std::string, double> latest_;
};

/// Wall-clock seconds since the Unix epoch (the time of metrics records).
double unix_time();

}  // namespace dlnest
