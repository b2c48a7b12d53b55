// Collective operations among the ranks of a distributed (DDP) run. The runtime creates the
// communicator (Gloo on the CPU, NCCL on GPUs) and hands it to the Runner; user code rarely needs
// it directly: Runner::backward, reduce_mean and reduce_sum use it.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace dlnest {

/// The ranks of one distributed run. Every rank must call the same operations in the same order
/// with tensors of the same shapes; an operation that a rank never reaches fails on the others
/// after the run's collective timeout.
class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;

  /// Sums each tensor of `tensors` over all ranks, in place. The operations run concurrently;
  /// the call returns when all of them are done.
  virtual void all_reduce_sum(std::vector<torch::Tensor>& tensors) = 0;
  /// Overwrites each tensor of `tensors` with rank `root`'s, concurrently.
  virtual void broadcast(std::vector<torch::Tensor>& tensors, int root) = 0;
  /// Returns when every rank has called it.
  virtual void barrier() = 0;
};

}  // namespace dlnest
