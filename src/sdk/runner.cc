#include "dlnest/runner.h"

#include <unordered_set>

#include "dlnest/dataset.h"
#include "sdk/gradient_sync.h"

namespace dlnest {

void LrScheduler::fast_forward(int64_t steps) {
  for (int64_t i = 0; i < steps; ++i) step();
}

void Runner::visualize(int, int, Json&) {}
void Runner::validate_a_batch(Batch&, int) {}
void Runner::validation_analyze(Json&) {}

std::shared_ptr<LrScheduler> Runner::register_lr_scheduler(
    const std::string& name, std::shared_ptr<torch::optim::LRScheduler> scheduler) {
  auto counted = std::make_shared<LrScheduler>(std::move(scheduler));
  lr_schedulers_.emplace_back(name, counted);
  return counted;
}

namespace {

/// The tensors of every module, each once (a module registered twice, or shared by two, counts
/// once), in registration order.
template <typename Select>
std::vector<torch::Tensor> unique_tensors(const Runner::ModuleList& modules, Select&& select) {
  std::vector<torch::Tensor> out;
  std::unordered_set<const void*> seen;
  for (const auto& entry : modules) {
    for (const torch::Tensor& t : select(*entry.second)) {
      if (seen.insert(t.unsafeGetTensorImpl()).second) out.push_back(t);
    }
  }
  return out;
}

}  // namespace

void Runner::backward(const torch::Tensor& loss) {
  loss.backward();
  sync_gradients();
}

void Runner::sync_gradients() {
  Communicator* comm = communicator();
  if (comm == nullptr) return;
  std::vector<torch::Tensor> params = unique_tensors(modules_, [](torch::nn::Module& m) {
    std::vector<torch::Tensor> trained;
    for (const torch::Tensor& p : m.parameters()) {
      if (p.requires_grad()) trained.push_back(p);
    }
    return trained;
  });
  average_gradients(*comm, params);
  std::vector<torch::Tensor> buffers =
      unique_tensors(modules_, [](torch::nn::Module& m) { return m.buffers(); });
  broadcast_tensors(*comm, buffers, /*root=*/0);
}

torch::Tensor Runner::reduce_sum(const torch::Tensor& value) const {
  Communicator* comm = communicator();
  if (comm == nullptr) return value;
  // On this rank's device, which the backend works on (a CPU value under NCCL moves there).
  std::vector<torch::Tensor> sum = {value.detach().to(device()).clone().contiguous()};
  comm->all_reduce_sum(sum);
  return sum[0].to(value.device());
}

torch::Tensor Runner::reduce_mean(const torch::Tensor& value) const {
  if (communicator() == nullptr) return value;
  return reduce_sum(value) / world_size();
}

void Runner::place(const DeviceAssignment& assignment, const Json& args) {
  assignment_ = assignment;
  if (assignment_.devices.empty()) assignment_.devices = {assignment_.device};
  args_ = args;
}

Registry<Runner>& runner_registry() {
  static Registry<Runner> registry;
  return registry;
}

Registry<Dataset>& dataset_registry() {
  static Registry<Dataset> registry;
  return registry;
}

}  // namespace dlnest
