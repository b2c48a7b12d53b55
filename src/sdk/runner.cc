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

namespace {

LoggedValue logged_tensor(const char* method, const std::string& name, const torch::Tensor& value,
                          const LogOptions& options) {
  TORCH_CHECK(!name.empty(), method, ": the name is empty");
  TORCH_CHECK(value.defined() && value.numel() == 1, method, "(\"", name,
              "\"): expected a tensor of one element, but got ",
              value.defined() ? "shape " + c10::str(value.sizes()) : std::string("an undefined tensor"));
  // Detached, so that the step's graph is not kept alive until the runtime reads the value.
  return LoggedValue{0, value.detach(), options};
}

}  // namespace

void Runner::log(const std::string& name, double value, const LogOptions& options) {
  TORCH_CHECK(!name.empty(), "log: the name is empty");
  step_values_[name] = LoggedValue{value, torch::Tensor(), options};
}

void Runner::log(const std::string& name, const torch::Tensor& value, const LogOptions& options) {
  step_values_[name] = logged_tensor("log", name, value, options);
}

void Runner::log_epoch(const std::string& name, double value, const LogOptions& options) {
  TORCH_CHECK(!name.empty(), "log_epoch: the name is empty");
  epoch_values_[name] = LoggedValue{value, torch::Tensor(), options};
}

void Runner::log_epoch(const std::string& name, const torch::Tensor& value,
                       const LogOptions& options) {
  epoch_values_[name] = logged_tensor("log_epoch", name, value, options);
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
