// logging_bench: what Runner::log costs a training step (docs/benchmarks.md, "Logging overhead").
// The MNIST template's step (templates/mnist/Model/MNISTCNN.h with the template's model config,
// Adam, batches of 64 synthetic 28x28 images) runs in blocks of --steps steps, each block either
// without logging or logging three scalars per step (the loss as a tensor with the mean, the
// same tensor with the max, the learning rate as a double with the last value). After every
// step the bench does what the trainer does: MetricsRecorder::step, and when something was
// logged, MetricsLog::write of the step record to metrics.jsonl, metrics.csv and TensorBoard
// files in a temporary folder. The two kinds of block alternate --reps times, in one run.
//
//   logging_bench [--reps R] [--steps N] [--threads T] [--device cpu|cuda]
//                 [--allocator tuned|default]
//
// Like dlnest-worker, it tunes glibc's allocator (mallopt) unless --allocator default.
//
// Prints per kind the median of all its steps' times and the median of its blocks' mean step
// times, the ratios of the two kinds, and the median time of the logging work alone (log()
// calls + recorder + write), measured inside the logging blocks, as a share of the median step.
#include <malloc.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "MNISTCNN.h"
#include "dlnest/runner.h"
#include "metrics/metrics_log.h"
#include "sdk/metrics_recorder.h"

namespace {

using Clock = std::chrono::steady_clock;
// The same values as dlnest-worker's tune_allocator() (src/worker/main.cc).
constexpr int kMmapThreshold = 32 * 1024 * 1024;
constexpr int kTrimThreshold = 1 << 30;

struct Options {
  int reps = 9;
  int steps = 200;
  int threads = 0;  ///< 0: libtorch's default
  std::string device = "cpu";
  std::string allocator = "tuned";
};

/// The MNIST template's Runner, reduced to its training step.
class BenchRunner : public dlnest::Runner {
 public:
  void init(const dlnest::Json&, const dlnest::Json&) override {
    model_ = register_module("model", MNISTCNN(32, 64, 3, 128, 0.25, 10));
    optimizer_ = register_optimizer(
        "adam", std::make_shared<torch::optim::Adam>(model_->parameters(),
                                                     torch::optim::AdamOptions(1e-3)));
  }
  void run_one_step(dlnest::Batch& batch, dlnest::Json&, int, int) override {
    model_->train();
    torch::Tensor loss = torch::nn::functional::cross_entropy(model_->forward(batch[0]), batch[1]);
    model_->zero_grad(/*set_to_none=*/true);
    backward(loss);
    optimizer_->step();
    loss_ = loss;
  }
  /// The three scalars of a logging step.
  void log_three() {
    log("loss", loss_);
    log("loss_max", loss_, dlnest::LogOptions().aggregation(dlnest::Aggregation::kMax));
    log("lr", optimizer_->param_groups().front().options().get_lr(),
        dlnest::LogOptions().aggregation(dlnest::Aggregation::kLast));
  }

 private:
  MNISTCNN model_{nullptr};
  std::shared_ptr<torch::optim::Adam> optimizer_;
  torch::Tensor loss_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

struct Bench {
  BenchRunner runner;
  std::vector<dlnest::Batch> batches;
  dlnest::MetricsRecorder recorder{nullptr, torch::kCPU};
  std::unique_ptr<dlnest::MetricsLog> metrics;
  dlnest::Json log = dlnest::Json::object();
  std::vector<double> logging_seconds;  ///< the logging work of each logging step
  std::vector<double> step_seconds[2];  ///< every step, without [0] and with [1] logging

  /// Mean seconds of one step over a block of `steps` steps.
  double block(int steps, bool logging) {
    const auto start = Clock::now();
    for (int i = 0; i < steps; ++i) {
      const auto step_start = Clock::now();
      runner.run_one_step(batches[static_cast<size_t>(i) % batches.size()], log, i, 0);
      const auto logged = Clock::now();
      if (logging) runner.log_three();
      const dlnest::MetricsRecord record = recorder.step(runner, 0);
      if (!record.values.empty()) {
        const dlnest::Status written = metrics->write(record);
        if (!written.is_ok()) throw std::runtime_error(written.message());
      }
      const auto end = Clock::now();
      if (logging) logging_seconds.push_back(std::chrono::duration<double>(end - logged).count());
      step_seconds[logging].push_back(std::chrono::duration<double>(end - step_start).count());
    }
    return std::chrono::duration<double>(Clock::now() - start).count() / steps;
  }
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"logging_bench: the cost of Runner::log in the MNIST template's training step"};
  app.add_option("--reps", o.reps, "blocks of each kind, alternating")->check(CLI::PositiveNumber);
  app.add_option("--steps", o.steps, "steps per block")->check(CLI::PositiveNumber);
  app.add_option("--threads", o.threads, "intra-op threads (0: libtorch's default)");
  app.add_option("--device", o.device, "where to train")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--allocator", o.allocator, "tuned: dlnest-worker's mallopt settings")
      ->check(CLI::IsMember({"tuned", "default"}));
  CLI11_PARSE(app, argc, argv);
  if (o.allocator == "tuned") {
    mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
    mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
  }
  if (o.threads > 0) torch::set_num_threads(o.threads);
  torch::manual_seed(0);

  char dir[] = "/tmp/logging_bench_XXXXXX";
  if (::mkdtemp(dir) == nullptr) return 1;
  Bench bench;
  const torch::Device device(o.device == "cuda" ? torch::kCUDA : torch::kCPU);
  bench.runner.place(dlnest::DeviceAssignment{device, 0, 1, {}, nullptr}, dlnest::Json::object());
  bench.runner.init(dlnest::Json::object(), dlnest::Json::object());
  for (int i = 0; i < 16; ++i) {
    bench.batches.push_back({torch::randn({64, 1, 28, 28}).to(device),
                             torch::randint(0, 10, {64}, torch::kLong).to(device)});
  }
  auto opened = dlnest::MetricsLog::open(dir, std::nullopt, dlnest::unix_time());
  if (!opened.is_ok()) {
    std::fprintf(stderr, "%s\n", opened.status().message().c_str());
    return 1;
  }
  bench.metrics = std::move(*opened);

  bench.block(o.steps / 4 + 1, true);  // warm-up: allocator, caches, the files' first pages
  bench.logging_seconds.clear();
  for (auto& s : bench.step_seconds) s.clear();
  std::vector<double> plain, logged;
  for (int rep = 0; rep < o.reps; ++rep) {
    // Alternating which kind goes first, so that a drift of the machine hits both alike.
    const bool logging_first = rep % 2 == 1;
    for (bool logging : {logging_first, !logging_first}) {
      (logging ? logged : plain).push_back(bench.block(o.steps, logging));
    }
  }
  const double p = median(plain), l = median(logged), w = median(bench.logging_seconds);
  const double sp = median(bench.step_seconds[0]), sl = median(bench.step_seconds[1]);
  std::printf("device %s, %d intra-op threads, %s allocator, %d blocks of %d steps per kind\n",
              o.device.c_str(), torch::get_num_threads(), o.allocator.c_str(), o.reps, o.steps);
  std::printf("                        median step   median block mean\n");
  std::printf("step without logging   %9.3f ms   %9.3f ms\n", sp * 1e3, p * 1e3);
  std::printf("step logging 3 scalars %9.3f ms   %9.3f ms\n", sl * 1e3, l * 1e3);
  std::printf("ratio                  %9.4f      %9.4f\n", sl / sp, l / p);
  std::printf("logging work per step  %9.1f us (median) = %.3f%% of the median step without "
              "logging\n",
              w * 1e6, 100 * w / sp);
  std::printf("logging work per step  %9.1f us (mean), %.1f us (max)\n", mean(bench.logging_seconds) * 1e6,
              *std::max_element(bench.logging_seconds.begin(), bench.logging_seconds.end()) * 1e6);
  for (int k = 0; k < 2; ++k) {
    const auto& v = bench.step_seconds[k];
    std::printf("%s: mean step %.3f ms, slowest %.1f ms\n", k ? "logging" : "plain  ", mean(v) * 1e3,
                *std::max_element(v.begin(), v.end()) * 1e3);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
