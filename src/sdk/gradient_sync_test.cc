// Gradient averaging, broadcasts and the Runner's collectives between two real ranks over Gloo:
// each test runs as rank 0 here and as rank 1 in a second copy of this binary.
#include "sdk/gradient_sync.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "dlnest/runner.h"
#include "sdk/comm_group.h"
#include "worker/launcher.h"

namespace dlnest {
namespace {

constexpr const char* kRankVariable = "DLNEST_TEST_RANK";
constexpr const char* kPortVariable = "DLNEST_TEST_PORT";

/// Runs `body(communicator)` as rank 0 here and as rank 1 in a child running only this test.
template <typename Body>
void on_two_ranks(Body&& body) {
  if (!has_backend_for(torch::kCPU)) GTEST_SKIP() << "this libtorch has no Gloo for CPU ranks";
  const char* rank_text = std::getenv(kRankVariable);
  const int rank = rank_text == nullptr ? 0 : std::atoi(rank_text);
  std::unique_ptr<RankProcesses> processes;
  int port = 0;
  if (rank == 0) {
    Result<int> free = free_port();
    ASSERT_TRUE(free.is_ok());
    port = *free;
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    processes = make_posix_rank_processes();
    Result<int> child =
        processes->start({"/proc/self/exe", std::string("--gtest_filter=") +
                                                test->test_suite_name() + "." + test->name()},
                         {{kRankVariable, "1"}, {kPortVariable, std::to_string(port)}});
    ASSERT_TRUE(child.is_ok()) << child.status().message();
  } else {
    port = std::atoi(std::getenv(kPortVariable));
  }
  CommGroupOptions options;
  options.rank = rank;
  options.world_size = 2;
  options.master_port = port;
  options.timeout = std::chrono::seconds(60);
  Result<std::shared_ptr<Communicator>> comm = connect_comm_group(options);
  ASSERT_TRUE(comm.is_ok()) << comm.status().message();
  body(**comm);
  (*comm)->barrier();
  if (processes) {
    const std::optional<ChildExit> exit = processes->wait_any(60);
    ASSERT_TRUE(exit.has_value());
    EXPECT_EQ(exit->code, 0) << "rank 1 failed (its output is above)";
  }
}

torch::Tensor with_grad(torch::Tensor value) {
  return value.set_requires_grad(true);
}

TEST(GradientSync, AveragesGradientsInBucketsOverTheRanks) {
  on_two_ranks([](Communicator& comm) {
    const double r = comm.rank();
    std::vector<torch::Tensor> params = {
        with_grad(torch::zeros({3})), with_grad(torch::zeros({2, 2})), with_grad(torch::zeros({4})),
        with_grad(torch::zeros({2}, torch::kDouble))};
    params[0].mutable_grad() = torch::full({3}, 1 + r);
    if (r == 0) params[1].mutable_grad() = torch::full({2, 2}, 4.0);  // rank 0 only
    params[3].mutable_grad() = torch::tensor({r, 10 * r}, torch::kDouble);
    // 16-byte buckets: several buckets, and float and double gradients in separate ones.
    average_gradients(comm, params, 16);
    EXPECT_TRUE(torch::equal(params[0].grad(), torch::full({3}, 1.5)));
    ASSERT_TRUE(params[1].grad().defined()) << "a gradient of one rank is averaged with zeros";
    EXPECT_TRUE(torch::equal(params[1].grad(), torch::full({2, 2}, 2.0)));
    EXPECT_FALSE(params[2].grad().defined()) << "a gradient of no rank stays undefined";
    EXPECT_TRUE(torch::equal(params[3].grad(), torch::tensor({0.5, 5.0}, torch::kDouble)));
  });
}

TEST(GradientSync, BroadcastsFromTheRoot) {
  on_two_ranks([](Communicator& comm) {
    const int64_t r = comm.rank();
    std::vector<torch::Tensor> tensors = {with_grad(torch::full({5}, r + 1.0)),
                                          torch::full({2}, r + 7, torch::kLong)};
    broadcast_tensors(comm, tensors, /*root=*/1, 8);
    EXPECT_TRUE(torch::equal(tensors[0], torch::full({5}, 2.0)));
    EXPECT_TRUE(torch::equal(tensors[1], torch::full({2}, 8, torch::kLong)));
  });
}

/// A runner with a linear layer and a BatchNorm (a buffer that sync_gradients shares).
class TwoLayers : public Runner {
 public:
  void init(const Json&, const Json&) override {
    linear = register_module("linear", torch::nn::Linear(2, 1));
    norm = register_module("norm", torch::nn::BatchNorm1d(1));
  }
  void run_one_step(Batch&, Json&, int, int) override {}
  torch::nn::Linear linear{nullptr};
  torch::nn::BatchNorm1d norm{nullptr};
};

TEST(GradientSync, RunnerBackwardAveragesAndReducesOverTheRanks) {
  on_two_ranks([](Communicator& comm) {
    const double r = comm.rank();
    TwoLayers runner;
    DeviceAssignment assignment;
    assignment.rank = comm.rank();
    assignment.world_size = 2;
    assignment.communicator = std::shared_ptr<Communicator>(&comm, [](Communicator*) {});
    runner.place(assignment, Json::object());
    runner.init({}, {});
    {
      torch::NoGradGuard no_grad;
      runner.linear->weight.fill_(1.0);
      runner.linear->bias.fill_(0.0);
    }
    // The loss is r * (x0 + x1): the gradients are r * x, averaged (0 + 1) / 2.
    const torch::Tensor x = torch::tensor({{1.0f, 2.0f}});
    runner.norm->train();
    runner.norm->forward(torch::full({4, 1}, 3.0f * static_cast<float>(r + 1)));
    runner.backward(runner.linear->forward(x).sum() * r);
    EXPECT_TRUE(torch::allclose(runner.linear->weight.grad(), torch::tensor({{0.5f, 1.0f}})));
    // Every rank holds rank 0's BatchNorm statistics.
    EXPECT_NEAR(runner.norm->running_mean.item<double>(), 0.3, 1e-6);
    EXPECT_EQ(runner.reduce_sum(torch::tensor(r + 1)).item<double>(), 3.0);
    EXPECT_EQ(runner.reduce_mean(torch::tensor(r + 1)).item<double>(), 1.5);
    EXPECT_EQ(runner.reduce_sum(torch::tensor(int64_t{2})).item<int64_t>(), 4);
  });
}

}  // namespace
}  // namespace dlnest
