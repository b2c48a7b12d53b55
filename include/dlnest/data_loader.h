// DataLoader: batches from a BatchSource, shuffled with a seed, assembled by background threads
// ahead of use, moved to the task's device, and resumable at any batch.
#pragma once

#include <torch/torch.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace dlnest {

/// One batch: the tensors a source produces, e.g. {images, labels}.
using Batch = std::vector<torch::Tensor>;

/// Random access to the samples of a dataset.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual size_t size() const = 0;
  /// The batch of the samples `indices`, in that order. Called from loader threads.
  virtual Batch get_batch(const std::vector<int64_t>& indices) const = 0;
};

/// Samples are the rows (first dimension) of in-memory tensors of equal length.
class TensorSource final : public BatchSource {
 public:
  explicit TensorSource(std::vector<torch::Tensor> tensors);
  size_t size() const override;
  Batch get_batch(const std::vector<int64_t>& indices) const override;

 private:
  std::vector<torch::Tensor> tensors_;
};

/// DataLoaderOptions::workers: choose the number from the intra-op thread count.
inline constexpr int kAutoWorkers = -1;

/// The loader's background threads for `intra_op_threads` (at::get_num_threads()): 0 for one
/// intra-op thread, where assembling a batch on the training thread is cheaper than handing it
/// over (docs/benchmarks.md), and 1 for more, where it hides the wait of the gather's parallel
/// region behind the step.
int default_loader_workers(int intra_op_threads);

struct DataLoaderOptions {
  DataLoaderOptions(int64_t batch_size = 32) : batch_size_(batch_size) {}  // NOLINT
  TORCH_ARG(int64_t, batch_size);
  /// Reshuffle every epoch; the order depends only on (seed, epoch).
  TORCH_ARG(bool, shuffle) = false;
  TORCH_ARG(uint64_t, seed) = 0;
  /// Background threads assembling batches; 0 assembles them on the caller's thread.
  /// kAutoWorkers (the default): default_loader_workers() of libtorch's intra-op thread count
  /// when the loader is constructed; options().workers() then says how many were chosen.
  TORCH_ARG(int, workers) = kAutoWorkers;
  /// Batches assembled ahead of the one in use.
  TORCH_ARG(int, prefetch) = 4;
  TORCH_ARG(bool, drop_last) = false;
  /// Pin batches in page-locked memory when the device is a GPU (faster, asynchronous copies).
  TORCH_ARG(bool, pin_memory) = true;
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<BatchSource> source, DataLoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  /// Batches are delivered on `device` (the runtime sets the task's device).
  void set_device(torch::Device device) { device_ = device; }
  /// Restricts the loader to shard `rank` of `world_size` (the runtime sets it under DDP).
  void set_shard(int rank, int world_size);

  /// Starts epoch `epoch` at batch `first_batch` (to resume part-way).
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  /// The next batch of the current epoch, or nullopt at its end. Rethrows a source's exception.
  std::optional<Batch> next();

  /// Batches in one epoch (of this shard).
  int64_t batches_per_epoch() const;
  int64_t epoch() const { return epoch_; }
  /// Batches delivered so far in the current epoch.
  int64_t position() const { return position_; }
  const DataLoaderOptions& options() const { return options_; }
  size_t size() const { return source_->size(); }

 private:
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  std::vector<int64_t> batch_indices(int64_t batch) const;
  Batch assemble(int64_t batch) const;
  Batch to_device(Batch batch) const;
  /// Assembles batches first_batch, first_batch + workers, ... of the current epoch.
  void worker_loop(int64_t first_batch);
  void stop_workers();

  std::shared_ptr<BatchSource> source_;
  DataLoaderOptions options_;
  torch::Device device_ = torch::kCPU;
  int rank_ = 0;
  int world_size_ = 1;

  int64_t epoch_ = -1;
  int64_t position_ = 0;
  int64_t end_ = 0;
  std::vector<int64_t> order_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int64_t, Batch> ready_;
  std::map<int64_t, std::exception_ptr> failed_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace dlnest
