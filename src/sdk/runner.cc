#include "dlnest/runner.h"

#include "dlnest/dataset.h"

namespace dlnest {

void Scheduler::fast_forward(int64_t steps) {
  for (int64_t i = 0; i < steps; ++i) step();
}

void Runner::visualize(int, int, Json&) {}
void Runner::validate_a_batch(Batch&, int) {}
void Runner::validation_analyze(Json&) {}

std::shared_ptr<Scheduler> Runner::register_scheduler(
    const std::string& name, std::shared_ptr<torch::optim::LRScheduler> scheduler) {
  auto counted = std::make_shared<Scheduler>(std::move(scheduler));
  schedulers_.emplace_back(name, counted);
  return counted;
}

torch::Tensor Runner::reduce_mean(const torch::Tensor& value) const { return value; }
torch::Tensor Runner::reduce_sum(const torch::Tensor& value) const { return value; }

void Runner::place(const RunPlacement& placement, const Json& args) {
  placement_ = placement;
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
