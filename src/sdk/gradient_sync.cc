#include "sdk/gradient_sync.h"

#include <torch/csrc/utils/tensor_flatten.h>

namespace dlnest {

namespace {

/// A contiguous tensor of at least this size travels alone and in place: copying it into a
/// bucket and back costs more than one more collective (docs/benchmarks.md).
constexpr size_t kInPlaceBytes = size_t{1} << 20;

/// Hands `tensors` to `collective` in buckets: large contiguous tensors alone (in place), the
/// others flattened into buckets of about `bucket_bytes` (one per dtype and device); then writes
/// the results back with `store(tensor, result)`.
template <typename Collective, typename Store>
void bucketed(const std::vector<torch::Tensor>& tensors, size_t bucket_bytes,
              Collective&& collective, Store&& store) {
  std::vector<std::vector<torch::Tensor>> groups;
  std::vector<torch::Tensor> small;
  for (const torch::Tensor& t : tensors) {
    const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
    if (bytes >= kInPlaceBytes && t.is_contiguous()) {
      groups.push_back({t});
    } else {
      small.push_back(t);
    }
  }
  for (auto& group : torch::utils::take_tensors(small, bucket_bytes)) {
    groups.push_back(std::move(group.tensors));
  }
  std::vector<torch::Tensor> flats;  // a view of the tensor itself for a group of one
  flats.reserve(groups.size());
  for (const auto& group : groups) flats.push_back(torch::utils::flatten_dense_tensors(group));
  collective(flats);
  for (size_t i = 0; i < groups.size(); ++i) {
    std::vector<torch::Tensor> parts = torch::utils::unflatten_dense_tensors(flats[i], groups[i]);
    for (size_t j = 0; j < parts.size(); ++j) store(groups[i][j], parts[j]);
  }
}

}  // namespace

void average_gradients(Communicator& comm, const std::vector<torch::Tensor>& params,
                       size_t bucket_bytes) {
  if (params.empty()) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  grads.reserve(params.size() + 1);
  // Which ranks have each gradient travels with the gradients, so that every rank sends the
  // same layout and a gradient that exists nowhere is not invented.
  std::vector<float> present(params.size(), 1.0f);
  std::vector<size_t> filled;
  for (size_t i = 0; i < params.size(); ++i) {
    const torch::Tensor& p = params[i];
    if (!p.grad().defined()) {
      p.mutable_grad() = torch::zeros_like(p);
      present[i] = 0.0f;
      filled.push_back(i);
    }
    TORCH_CHECK(!p.grad().is_sparse(),
                "distributed training supports dense gradients only; "
                "parameter ",
                i, " has a sparse one");
    grads.push_back(p.grad());
  }
  torch::Tensor mask = torch::tensor(present).to(params[0].device());
  grads.push_back(mask);
  const torch::Scalar world = comm.world_size();
  bucketed(
      grads, bucket_bytes,
      [&comm](std::vector<torch::Tensor>& flats) { comm.all_reduce_sum(flats); },
      // The mean in the same pass as the copy back.
      [&world](torch::Tensor& grad, const torch::Tensor& sum) { at::div_out(grad, sum, world); });
  if (filled.empty()) return;
  const torch::Tensor anywhere = mask.to(torch::kCPU);
  for (size_t i : filled) {
    if (anywhere[static_cast<int64_t>(i)].item<float>() == 0.0f)
      params[i].mutable_grad() = torch::Tensor();
  }
}

void broadcast_tensors(Communicator& comm, const std::vector<torch::Tensor>& tensors, int root,
                       size_t bucket_bytes) {
  if (tensors.empty()) return;
  torch::NoGradGuard no_grad;
  bucketed(
      tensors, bucket_bytes,
      [&comm, root](std::vector<torch::Tensor>& flats) { comm.broadcast(flats, root); },
      [](torch::Tensor& tensor, const torch::Tensor& value) { tensor.copy_(value); });
}

}  // namespace dlnest
