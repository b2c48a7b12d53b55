// ddp_allreduce_bench: what DLNest's gradient averaging (Runner::sync_gradients: bucketed
// all-reduce, docs/training.md) costs against a raw c10d all-reduce of the same bytes, and against
// one all-reduce per gradient tensor. CPU ranks over Gloo on this machine (docs/benchmarks.md,
// "DDP gradient all-reduce").
//
//   ddp_allreduce_bench [--ranks 2] [--iters 30]
//
// Two models of about 8 million parameters: a wide MLP (8 large tensors) and a deep one
// (24 blocks of Linear + LayerNorm, 98 tensors), as gradient layouts differ most in that way.
// Without --rank it starts the ranks itself (the launcher of dlnest-worker) and waits for them.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <numeric>

#include "dlnest/runner.h"
#include "sdk/comm_group.h"
#include "sdk/gradient_sync.h"
#include "worker/launcher.h"

namespace {

using Clock = std::chrono::steady_clock;

torch::nn::Sequential wide_mlp() {
  return torch::nn::Sequential(torch::nn::Linear(784, 2048), torch::nn::ReLU(),
                               torch::nn::Linear(2048, 2048), torch::nn::ReLU(),
                               torch::nn::Linear(2048, 1024), torch::nn::ReLU(),
                               torch::nn::Linear(1024, 10));
}

torch::nn::Sequential deep_mlp() {
  torch::nn::Sequential model;
  model->push_back(torch::nn::Linear(784, 576));
  for (int i = 0; i < 23; ++i) {
    model->push_back(torch::nn::LayerNorm(torch::nn::LayerNormOptions({576})));
    model->push_back(torch::nn::Linear(576, 576));
  }
  model->push_back(torch::nn::LayerNorm(torch::nn::LayerNormOptions({576})));
  model->push_back(torch::nn::Linear(576, 10));
  return model;
}

/// A runner holding `model` as its only registered module.
class BenchRunner : public dlnest::Runner {
 public:
  explicit BenchRunner(torch::nn::Sequential model) : model_(std::move(model)) {}
  void init(const dlnest::Json&, const dlnest::Json&) override {
    model_ = register_module("mlp", model_);
  }
  void run_one_step(dlnest::Batch&, dlnest::Json&, int, int) override {}
  torch::nn::Sequential& model() { return model_; }

 private:
  torch::nn::Sequential model_;
};

struct Timing {
  std::string name;
  std::function<void()> op;
  std::vector<double> ms;
};

/// Runs every operation `iters` times after 3 warm-up rounds, interleaved (a b c a b c ...) so
/// that drift of the machine hits them alike; every run starts together on all ranks.
void time_ops(std::vector<Timing>& timings, dlnest::Communicator& comm, int iters) {
  for (int i = 0; i < iters + 3; ++i) {
    for (Timing& t : timings) {
      comm.barrier();
      const auto start = Clock::now();
      t.op();
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      if (i >= 3) t.ms.push_back(ms);
    }
  }
}

void report(const std::vector<Timing>& timings) {
  std::printf("%-44s %9s %9s %9s %10s\n", "operation", "median", "min", "mean", "vs raw");
  double raw = 0;
  for (const Timing& t : timings) {
    std::vector<double> v = t.ms;
    std::sort(v.begin(), v.end());
    const double median = v[v.size() / 2];
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
    if (raw == 0) raw = median;
    std::printf("%-44s %7.2f ms %6.2f ms %6.2f ms %9.2fx\n", t.name.c_str(), median, v.front(),
                mean, median / raw);
  }
}

/// Times the gradient exchange of `model` on this rank; rank 0 prints the table.
void bench_model(const std::string& name, torch::nn::Sequential model,
                 const std::shared_ptr<dlnest::Communicator>& comm, int iters) {
  BenchRunner runner(std::move(model));
  dlnest::DeviceAssignment assignment;
  assignment.rank = comm->rank();
  assignment.world_size = comm->world_size();
  assignment.communicator = comm;
  runner.place(assignment, dlnest::Json::object());
  runner.init({}, {});
  std::vector<torch::Tensor> params = runner.model()->parameters();
  int64_t numel = 0;
  for (torch::Tensor& p : params) {
    p.mutable_grad() = torch::randn_like(p);
    numel += p.numel();
  }
  torch::Tensor flat = torch::randn({numel});
  dlnest::Communicator& c = *comm;
  std::vector<Timing> timings;
  timings.push_back({"raw all-reduce of one flat tensor",
                     [&] {
                       std::vector<torch::Tensor> one = {flat};
                       c.all_reduce_sum(one);
                     },
                     {}});
  timings.push_back(
      {"Runner::sync_gradients (25 MB buckets)", [&] { runner.sync_gradients(); }, {}});
  timings.push_back({"average_gradients, 1 MB buckets",
                     [&] { dlnest::average_gradients(c, params, size_t{1} << 20); },
                     {}});
  timings.push_back({"one all-reduce per tensor, in turn",
                     [&] {
                       for (torch::Tensor& p : params) {
                         std::vector<torch::Tensor> one = {p.grad()};
                         c.all_reduce_sum(one);
                       }
                     },
                     {}});
  time_ops(timings, c, iters);
  if (c.rank() == 0) {
    std::printf(
        "\n%s: %lld parameters in %zu tensors, %.1f MB of fp32 gradients per rank, "
        "%d ranks\n",
        name.c_str(), static_cast<long long>(numel), params.size(),
        static_cast<double>(numel) * 4 / 1e6, c.world_size());
    report(timings);
  }
  c.barrier();
}

int run_rank(int rank, int world, int port, int iters) {
  torch::set_num_threads(1);
  dlnest::CommGroupOptions options;
  options.rank = rank;
  options.world_size = world;
  options.master_port = port;
  auto comm = dlnest::connect_comm_group(options);
  if (!comm.is_ok()) {
    std::cerr << "rank " << rank << ": " << comm.status().message() << "\n";
    return 1;
  }
  bench_model("wide MLP", wide_mlp(), *comm, iters);
  bench_model("deep MLP", deep_mlp(), *comm, iters);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ddp_allreduce_bench: gradient averaging against a raw all-reduce"};
  int ranks = 2;
  int iters = 30;
  int rank = -1;
  int port = 0;
  app.add_option("--ranks", ranks, "CPU ranks (processes)")->check(CLI::Range(2, 64));
  app.add_option("--iters", iters, "timed runs of each operation")->check(CLI::PositiveNumber);
  app.add_option("--rank", rank, "(internal) run as this rank");
  app.add_option("--port", port, "(internal) rendezvous port");
  CLI11_PARSE(app, argc, argv);
  if (rank >= 0) return run_rank(rank, ranks, port, iters);

  auto free = dlnest::free_port();
  if (!free.is_ok()) {
    std::cerr << free.status().message() << "\n";
    return 1;
  }
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 1;
  std::vector<dlnest::RankSpec> specs;
  for (int r = 0; r < ranks; ++r) {
    dlnest::RankSpec spec;
    spec.rank = r;
    spec.argv = {std::string(self, static_cast<size_t>(n)),
                 "--rank",
                 std::to_string(r),
                 "--ranks",
                 std::to_string(ranks),
                 "--port",
                 std::to_string(*free),
                 "--iters",
                 std::to_string(iters)};
    specs.push_back(spec);
  }
  auto processes = dlnest::make_posix_rank_processes();
  return dlnest::run_ranks(*processes, specs, dlnest::WatchOptions{}, std::cerr);
}
