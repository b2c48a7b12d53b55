#include "dlnest/data_loader.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <stdexcept>

namespace dlnest {
namespace {

std::shared_ptr<TensorSource> numbers(int64_t n) {
  auto x = torch::arange(n, torch::kLong);
  return std::make_shared<TensorSource>(std::vector<torch::Tensor>{x, x * 10});
}

/// The first column of every batch of one epoch.
std::vector<std::vector<int64_t>> epoch_batches(DataLoader& loader, int64_t epoch,
                                                int64_t first = 0) {
  loader.start_epoch(epoch, first);
  std::vector<std::vector<int64_t>> out;
  while (auto batch = loader.next()) {
    const torch::Tensor& x = (*batch)[0];
    EXPECT_TRUE(torch::equal((*batch)[1], x * 10)) << "rows stay aligned";
    out.emplace_back(x.data_ptr<int64_t>(), x.data_ptr<int64_t>() + x.numel());
  }
  return out;
}

TEST(DataLoaderTest, BatchesInOrderWithoutShuffle) {
  DataLoader loader(numbers(10), DataLoaderOptions(4).workers(0));
  EXPECT_EQ(loader.batches_per_epoch(), 3);
  const std::vector<std::vector<int64_t>> expected = {{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}};
  EXPECT_EQ(epoch_batches(loader, 0), expected);
  DataLoader dropping(numbers(10), DataLoaderOptions(4).workers(0).drop_last(true));
  EXPECT_EQ(dropping.batches_per_epoch(), 2);
  EXPECT_EQ(epoch_batches(dropping, 0).size(), 2u);
}

TEST(DataLoaderTest, ShuffleDependsOnlyOnSeedAndEpoch) {
  DataLoader a(numbers(100), DataLoaderOptions(8).shuffle(true).seed(3).workers(0));
  DataLoader b(numbers(100), DataLoaderOptions(8).shuffle(true).seed(3).workers(3));
  DataLoader other_seed(numbers(100), DataLoaderOptions(8).shuffle(true).seed(4).workers(0));
  const auto epoch1 = epoch_batches(a, 1);
  EXPECT_EQ(epoch_batches(b, 1), epoch1) << "threads do not change the order";
  EXPECT_NE(epoch_batches(a, 2), epoch1) << "each epoch reshuffles";
  EXPECT_EQ(epoch_batches(a, 1), epoch1) << "an epoch's order is reproducible";
  EXPECT_NE(epoch_batches(other_seed, 1), epoch1);
  std::set<int64_t> seen;
  for (const auto& batch : epoch1) seen.insert(batch.begin(), batch.end());
  EXPECT_EQ(seen.size(), 100u) << "every sample exactly once";
}

TEST(DataLoaderTest, ResumesAtAnyBatch) {
  DataLoader loader(numbers(50), DataLoaderOptions(7).shuffle(true).seed(9).workers(2));
  const auto full = epoch_batches(loader, 5);
  const auto tail = epoch_batches(loader, 5, 3);
  EXPECT_EQ(tail, std::vector<std::vector<int64_t>>(full.begin() + 3, full.end()));
  loader.start_epoch(5, 2);
  EXPECT_EQ(loader.position(), 2);
  loader.next();
  EXPECT_EQ(loader.position(), 3);
}

TEST(DataLoaderTest, RestartingAnEpochMidwayStopsTheOldWorkers) {
  DataLoader loader(numbers(1000), DataLoaderOptions(10).workers(3).prefetch(2));
  loader.start_epoch(0);
  loader.next();
  const auto again = epoch_batches(loader, 0);
  EXPECT_EQ(again.size(), 100u);
  EXPECT_EQ(again.front().front(), 0);
}

class FailingSource : public BatchSource {
 public:
  size_t size() const override { return 40; }
  Batch get_batch(const std::vector<int64_t>& indices) const override {
    if (indices.front() == 20) throw std::runtime_error("bad sample 20");
    return {torch::tensor(indices, torch::kLong)};
  }
};

TEST(DataLoaderTest, ASourceErrorReachesTheConsumerAtItsBatch) {
  for (int workers : {0, 2}) {
    DataLoader loader(std::make_shared<FailingSource>(), DataLoaderOptions(10).workers(workers));
    loader.start_epoch(0);
    EXPECT_TRUE(loader.next().has_value());
    EXPECT_TRUE(loader.next().has_value());
    try {
      loader.next();
      ADD_FAILURE() << "expected the source's exception";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "bad sample 20");
    }
  }
}

TEST(DataLoaderTest, ShardsSplitTheDataAndPadToEqualLength) {
  std::multiset<int64_t> all;
  for (int rank = 0; rank < 3; ++rank) {
    DataLoader loader(numbers(10), DataLoaderOptions(2).shuffle(true).seed(1).workers(0));
    loader.set_shard(rank, 3);
    EXPECT_EQ(loader.batches_per_epoch(), 2);
    for (const auto& batch : epoch_batches(loader, 0)) all.insert(batch.begin(), batch.end());
  }
  EXPECT_EQ(all.size(), 12u) << "10 samples padded to 4 per rank";
  for (int64_t i = 0; i < 10; ++i) EXPECT_GE(all.count(i), 1u) << i;
}

TEST(DataLoaderTest, DefaultWorkersFollowTheIntraOpThreads) {
  EXPECT_EQ(default_loader_workers(1), 0) << "one intra-op thread: no hand-off";
  EXPECT_EQ(default_loader_workers(0), 0);
  EXPECT_EQ(default_loader_workers(2), 1);
  EXPECT_EQ(default_loader_workers(16), 1);

  const int threads = at::get_num_threads();
  for (int intra_op : {1, 2}) {
    at::set_num_threads(intra_op);
    ASSERT_EQ(at::get_num_threads(), intra_op);
    DataLoader automatic(numbers(10), DataLoaderOptions(4));
    EXPECT_EQ(automatic.options().workers(), default_loader_workers(intra_op)) << intra_op;
    EXPECT_EQ(epoch_batches(automatic, 0).size(), 3u);
    DataLoader explicit_workers(numbers(10), DataLoaderOptions(4).workers(3));
    EXPECT_EQ(explicit_workers.options().workers(), 3) << "an explicit setting is kept";
    DataLoader none(numbers(10), DataLoaderOptions(4).workers(0));
    EXPECT_EQ(none.options().workers(), 0) << "an explicit setting is kept";
  }
  at::set_num_threads(threads);
}

TEST(DataLoaderTest, BadOptionsAreRejected) {
  EXPECT_THROW(DataLoader(numbers(4), DataLoaderOptions(0)), c10::Error);
  EXPECT_THROW(DataLoader(numbers(4), DataLoaderOptions(2).workers(-2)), c10::Error);
  EXPECT_THROW(TensorSource({torch::zeros({3}), torch::zeros({4})}), c10::Error);
  DataLoader loader(numbers(4), DataLoaderOptions(2));
  EXPECT_THROW(loader.next(), c10::Error);
}

TEST(DataLoaderTest, BatchesArriveOnTheGpu_CUDA) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA GPU";
  DataLoader loader(numbers(64), DataLoaderOptions(16).workers(2));
  loader.set_device(torch::Device(torch::kCUDA, 0));
  loader.start_epoch(0);
  int64_t count = 0;
  while (auto batch = loader.next()) {
    EXPECT_TRUE((*batch)[0].is_cuda());
    count += (*batch)[0].size(0);
  }
  EXPECT_EQ(count, 64);
}

}  // namespace
}  // namespace dlnest
