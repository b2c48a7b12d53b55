#include "dlnest/data_loader.h"

#include <ATen/Parallel.h>

#include <random>

namespace dlnest {

TensorSource::TensorSource(std::vector<torch::Tensor> tensors) : tensors_(std::move(tensors)) {
  TORCH_CHECK(!tensors_.empty(), "TensorSource needs at least one tensor");
  for (const torch::Tensor& t : tensors_) {
    TORCH_CHECK(t.dim() > 0 && t.size(0) == tensors_[0].size(0),
                "TensorSource: every tensor needs the same first dimension, got ", t.sizes(),
                " and ", tensors_[0].sizes());
  }
}

size_t TensorSource::size() const { return static_cast<size_t>(tensors_[0].size(0)); }

Batch TensorSource::get_batch(const std::vector<int64_t>& indices) const {
  const torch::Tensor index = torch::tensor(indices, torch::kLong);
  Batch batch;
  for (const torch::Tensor& t : tensors_) batch.push_back(t.index_select(0, index));
  return batch;
}

int default_loader_workers(int intra_op_threads) { return intra_op_threads > 1 ? 1 : 0; }

DataLoader::DataLoader(std::shared_ptr<BatchSource> source, DataLoaderOptions options)
    : source_(std::move(source)), options_(options) {
  TORCH_CHECK(source_ != nullptr, "DataLoader needs a source");
  TORCH_CHECK(options_.batch_size() > 0, "DataLoader: batch_size must be positive, got ",
              options_.batch_size());
  TORCH_CHECK((options_.workers() >= 0 || options_.workers() == kAutoWorkers) &&
                  options_.prefetch() >= 1,
              "DataLoader: workers must be >= 0 (or kAutoWorkers) and prefetch >= 1, got workers ",
              options_.workers(), " and prefetch ", options_.prefetch());
  if (options_.workers() == kAutoWorkers) {
    options_.workers(default_loader_workers(at::get_num_threads()));
  }
}

DataLoader::~DataLoader() { stop_workers(); }

void DataLoader::set_shard(int rank, int world_size) {
  TORCH_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "DataLoader: bad shard ", rank,
              " of ", world_size);
  rank_ = rank;
  world_size_ = world_size;
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  const int64_t n = static_cast<int64_t>(source_->size());
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  if (options_.shuffle()) {
    // Fisher-Yates with a fixed engine: the same order on every platform and every rank.
    std::seed_seq seq{static_cast<uint32_t>(options_.seed()),
                      static_cast<uint32_t>(options_.seed() >> 32), static_cast<uint32_t>(epoch)};
    std::mt19937_64 rng(seq);
    for (int64_t i = n - 1; i > 0; --i) {
      const int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
      std::swap(order[i], order[j]);
    }
  }
  if (world_size_ == 1 || n == 0) return order;
  // Like torch's DistributedSampler: pad to a multiple of the world size, then stride by rank.
  const int64_t per_rank = (n + world_size_ - 1) / world_size_;
  for (int64_t i = 0; static_cast<int64_t>(order.size()) < per_rank * world_size_; ++i) {
    order.push_back(order[i % n]);
  }
  std::vector<int64_t> shard;
  for (int64_t i = rank_; i < per_rank * world_size_; i += world_size_) shard.push_back(order[i]);
  return shard;
}

int64_t DataLoader::batches_per_epoch() const {
  const int64_t n = static_cast<int64_t>(source_->size());
  const int64_t m = world_size_ == 1 ? n : (n + world_size_ - 1) / world_size_;
  const int64_t bs = options_.batch_size();
  return options_.drop_last() ? m / bs : (m + bs - 1) / bs;
}

std::vector<int64_t> DataLoader::batch_indices(int64_t batch) const {
  const int64_t begin = batch * options_.batch_size();
  const int64_t end = std::min<int64_t>(begin + options_.batch_size(), order_.size());
  return std::vector<int64_t>(order_.begin() + begin, order_.begin() + end);
}

Batch DataLoader::assemble(int64_t batch) const {
  Batch out = source_->get_batch(batch_indices(batch));
  if (device_.is_cuda() && options_.pin_memory()) {
    for (torch::Tensor& t : out) t = t.pin_memory();
  }
  return out;
}

Batch DataLoader::to_device(Batch batch) const {
  if (device_.is_cpu()) return batch;
  for (torch::Tensor& t : batch) t = t.to(device_, /*non_blocking=*/true);
  return batch;
}

void DataLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  stop_workers();
  epoch_ = epoch;
  order_ = epoch_order(epoch);
  end_ = batches_per_epoch();
  position_ = std::min(std::max<int64_t>(first_batch, 0), end_);
  ready_.clear();
  failed_.clear();
  stopping_ = false;
  for (int w = 0; w < options_.workers(); ++w) {
    workers_.emplace_back([this, first = position_ + w] { worker_loop(first); });
  }
}

void DataLoader::worker_loop(int64_t first_batch) {
  const int64_t stride = options_.workers();
  for (int64_t batch = first_batch; batch < end_; batch += stride) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || batch < position_ + options_.prefetch(); });
      if (stopping_) return;
    }
    Batch assembled;
    std::exception_ptr error;
    try {
      assembled = assemble(batch);
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (error) {
      failed_[batch] = error;
    } else {
      ready_[batch] = std::move(assembled);
    }
    cv_.notify_all();
  }
}

std::optional<Batch> DataLoader::next() {
  TORCH_CHECK(epoch_ >= 0, "DataLoader::next() before start_epoch()");
  if (position_ >= end_) return std::nullopt;
  if (workers_.empty()) return to_device(assemble(position_++));
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return ready_.count(position_) > 0 || failed_.count(position_) > 0; });
  auto failed = failed_.find(position_);
  if (failed != failed_.end()) std::rethrow_exception(failed->second);
  Batch batch = std::move(ready_[position_]);
  ready_.erase(position_);
  ++position_;
  cv_.notify_all();
  lock.unlock();
  return to_device(std::move(batch));
}

void DataLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
}

}  // namespace dlnest
