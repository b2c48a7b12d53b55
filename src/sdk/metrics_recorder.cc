#include "sdk/metrics_recorder.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

namespace dlnest {

namespace {

const char* aggregation_name(Aggregation a) {
  switch (a) {
    case Aggregation::kMin: return "min";
    case Aggregation::kMax: return "max";
    case Aggregation::kLast: return "last";
    case Aggregation::kMean: break;
  }
  return "mean";
}

Aggregation aggregation_of(const std::string& name) {
  for (Aggregation a : {Aggregation::kMean, Aggregation::kMin, Aggregation::kMax, Aggregation::kLast}) {
    if (name == aggregation_name(a)) return a;
  }
  throw std::invalid_argument("metrics state: unknown aggregation \"" + name + "\"");
}

/// The scalars of the Json log as the epoch record holds them.
void add_log_scalars(const Json& log, std::map<std::string, double>& values) {
  for (const auto& [key, value] : log.items()) {
    if (value.is_number() || value.is_boolean()) {
      values[key] = value.is_boolean() ? (value.get<bool>() ? 1.0 : 0.0) : value.get<double>();
    } else if (value.is_array() && !value.empty() && value.back().is_number()) {
      values[key] = value.back().get<double>();
    }
  }
}

/// A number of the state: JSON writes a non-finite one (a NaN loss) as null.
double number_of(const Json& j) {
  return j.is_null() ? std::numeric_limits<double>::quiet_NaN() : j.get<double>();
}

/// NaN when `a` or `b` is (a diverged loss makes its epoch's min and max NaN, as its mean and
/// as libtorch's min / max), else `otherwise`.
double nan_or(double a, double b, double otherwise) {
  return std::isnan(a) || std::isnan(b) ? std::numeric_limits<double>::quiet_NaN() : otherwise;
}

}  // namespace

double unix_time() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::map<std::string, double> MetricsRecorder::resolve(const Runner::LoggedValues& values) const {
  std::map<std::string, double> numbers;
  std::vector<std::string> names;
  std::vector<torch::Tensor> on_device;
  for (const auto& [name, value] : values) {
    if (!value.tensor.defined()) {
      numbers[name] = value.number;
    } else if (value.tensor.device().is_cpu()) {
      numbers[name] = value.tensor.item<double>();
    } else {
      names.push_back(name);
      on_device.push_back(value.tensor.reshape({1}).to(on_device.empty()
                                                           ? value.tensor.device()
                                                           : on_device.front().device(),
                                                       torch::kDouble));
    }
  }
  if (!on_device.empty()) {
    // One copy to the CPU for all of them: one wait for the device, not one per name.
    const torch::Tensor host = torch::cat(on_device).to(torch::kCPU);
    const double* data = host.data_ptr<double>();
    for (size_t i = 0; i < names.size(); ++i) numbers[names[i]] = data[i];
  }
  reduce(values, numbers);
  return numbers;
}

void MetricsRecorder::reduce(const Runner::LoggedValues& values,
                             std::map<std::string, double>& numbers) const {
  if (comm_ == nullptr) return;
  std::vector<std::string> names;
  std::vector<double> sums;
  for (const auto& [name, value] : values) {
    if (!value.options.reduce_over_ranks()) continue;
    names.push_back(name);
    sums.push_back(numbers[name]);
  }
  if (names.empty()) return;
  // The count goes along: ranks that logged different reduced names are told so.
  sums.push_back(static_cast<double>(names.size()));
  std::vector<torch::Tensor> all = {torch::tensor(sums, torch::kDouble).to(device_)};
  comm_->all_reduce_sum(all);
  const torch::Tensor host = all[0].to(torch::kCPU);
  const double* data = host.data_ptr<double>();
  const double ranks = comm_->world_size();
  TORCH_CHECK(data[names.size()] == ranks * static_cast<double>(names.size()),
              "the ranks logged different names with reduce_over_ranks in the same step");
  for (size_t i = 0; i < names.size(); ++i) numbers[names[i]] = data[i] / ranks;
}

MetricsRecord MetricsRecorder::step(Runner& runner, int epoch) {
  const Runner::LoggedValues values = runner.take_step_values();
  MetricsRecord record;
  record.kind = MetricsKind::kStep;
  record.epoch = epoch;
  record.step = ++global_step_;
  record.time = unix_time();
  record.values = resolve(values);
  for (const auto& [name, number] : record.values) {
    Aggregate& a = aggregates_[name];
    a.aggregation = values.at(name).options.aggregation();
    a.min = a.count == 0 ? number : nan_or(a.min, number, std::min<double>(a.min, number));
    a.max = a.count == 0 ? number : nan_or(a.max, number, std::max<double>(a.max, number));
    a.sum += number;
    a.last = number;
    ++a.count;
    latest_[name] = number;
  }
  return record;
}

double MetricsRecorder::value_of(const Aggregate& a) {
  switch (a.aggregation) {
    case Aggregation::kMin: return a.min;
    case Aggregation::kMax: return a.max;
    case Aggregation::kLast: return a.last;
    case Aggregation::kMean: break;
  }
  return a.sum / static_cast<double>(a.count);
}

MetricsRecord MetricsRecorder::epoch_end(Runner& runner, int epoch, double seconds,
                                         const Json& log) {
  MetricsRecord record;
  record.kind = MetricsKind::kEpoch;
  record.epoch = epoch;
  record.step = global_step_;
  record.time = unix_time();
  add_log_scalars(log, record.values);
  for (const auto& [name, a] : aggregates_) record.values[name] = value_of(a);
  for (const auto& [name, number] : resolve(runner.take_epoch_values())) {
    record.values[name] = number;
  }
  record.values["seconds"] = seconds;
  return record;
}

Json MetricsRecorder::state() const {
  Json aggregates = Json::object();
  for (const auto& [name, a] : aggregates_) {
    aggregates[name] = {{"aggregation", aggregation_name(a.aggregation)},
                        {"count", a.count},
                        {"sum", a.sum},
                        {"min", a.min},
                        {"max", a.max},
                        {"last", a.last}};
  }
  return {{"step", global_step_}, {"aggregates", std::move(aggregates)}};
}

void MetricsRecorder::restore(const Json& state) {
  try {
    global_step_ = state.at("step").get<int64_t>();
    aggregates_.clear();
    for (const auto& [name, a] : state.at("aggregates").items()) {
      aggregates_[name] = Aggregate{aggregation_of(a.at("aggregation").get<std::string>()),
                                    a.at("count").get<int64_t>(), number_of(a.at("sum")),
                                    number_of(a.at("min")),       number_of(a.at("max")),
                                    number_of(a.at("last"))};
      latest_[name] = aggregates_[name].last;
    }
  } catch (const Json::exception& e) {
    throw std::invalid_argument(std::string("the checkpoint's metrics state is malformed: ") +
                                e.what());
  }
}

}  // namespace dlnest
