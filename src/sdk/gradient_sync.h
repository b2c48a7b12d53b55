// What a DDP run exchanges besides user values: gradient averaging after backward and the
// broadcast of parameters and buffers from rank 0, both in size-bounded buckets (one collective
// per bucket, all in flight at once) rather than one collective per tensor.
#pragma once

#include <cstddef>
#include <vector>

#include "dlnest/distributed.h"

namespace dlnest {

/// The bucket size of PyTorch's DistributedDataParallel.
inline constexpr size_t kDefaultBucketBytes = size_t{25} << 20;

/// Replaces the gradient of every tensor of `params` by its mean over all ranks. A parameter
/// without a gradient on this rank counts as a zero gradient; one that has a gradient on no rank
/// is left without one, as in a single process. Throws c10::Error for sparse gradients and when
/// a collective fails.
void average_gradients(Communicator& comm, const std::vector<torch::Tensor>& params,
                       size_t bucket_bytes = kDefaultBucketBytes);

/// Overwrites every tensor of `tensors` with rank `root`'s (gradients are not recorded).
void broadcast_tensors(Communicator& comm, const std::vector<torch::Tensor>& tensors, int root,
                       size_t bucket_bytes = kDefaultBucketBytes);

}  // namespace dlnest
