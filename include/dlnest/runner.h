// Runner: the model and its optimisation step. Modules, optimizers and LR schedulers registered
// here are checkpointed and restored by the runtime without user code.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dlnest/data_loader.h"
#include "dlnest/distributed.h"
#include "dlnest/life_cycle.h"
#include "dlnest/registry.h"

namespace dlnest {

/// An LR scheduler whose steps are counted, so a resumed run continues its schedule exactly.
/// Returned by Runner::register_lr_scheduler.
class LrScheduler {
 public:
  explicit LrScheduler(std::shared_ptr<torch::optim::LRScheduler> scheduler)
      : scheduler_(std::move(scheduler)) {}
  void step() {
    scheduler_->step();
    ++steps_;
  }
  int64_t steps() const { return steps_; }
  /// Replays `steps` steps on a fresh scheduler (used when loading a checkpoint).
  void fast_forward(int64_t steps);

 private:
  std::shared_ptr<torch::optim::LRScheduler> scheduler_;
  int64_t steps_ = 0;
};

/// What the runtime gives a runner: its device, and its rank / world size under DDP.
struct DeviceAssignment {
  torch::Device device = torch::kCPU;
  int rank = 0;
  int world_size = 1;
  /// Every device the task was given (-mc without DDP gives several); empty: {device}.
  std::vector<torch::Device> devices;
  /// The ranks of a DDP run; nullptr in a single process.
  std::shared_ptr<Communicator> communicator;
};

class Runner {
 public:
  virtual ~Runner() = default;

  /// Builds the model: called once with the merged args and the dataset's info.
  virtual void init(const Json& args, const Json& dataset_info) = 0;
  /// The log of a fresh run (a resumed run gets its log from the checkpoint).
  virtual Json init_log() { return Json::object(); }
  /// Builds optimizers and LR schedulers (after init).
  virtual void init_optimizer() {}
  /// One training step on `batch` (already on device()).
  virtual void run_one_step(Batch& batch, Json& log, int iter, int epoch) = 0;
  virtual void visualize(int epoch, int iter, Json& log);
  virtual void validation_init() {}
  virtual void validate_a_batch(Batch& batch, int iter);
  virtual void validation_analyze(Json& log);
  /// Extra state of the runner saved in every checkpoint (registered objects are saved anyway).
  virtual Json state_dict() const { return Json::object(); }
  virtual void load_state_dict(const Json& state) { (void)state; }

  /// Registers a module under `name` (moved to device()) and returns it.
  template <typename ModuleType>
  ModuleType register_module(const std::string& name, ModuleType module) {
    module->to(device());
    modules_.emplace_back(name, module.ptr());
    return module;
  }
  template <typename OptimizerType>
  std::shared_ptr<OptimizerType> register_optimizer(const std::string& name,
                                                    std::shared_ptr<OptimizerType> optimizer) {
    optimizers_.emplace_back(name, optimizer);
    return optimizer;
  }
  /// Registers an LR scheduler under `name`; step the returned LrScheduler, not `scheduler`.
  std::shared_ptr<LrScheduler> register_lr_scheduler(
      const std::string& name, std::shared_ptr<torch::optim::LRScheduler> scheduler);

  /// `loss.backward()`, then sync_gradients(). Call it instead of `loss.backward()` in
  /// run_one_step, so the same step trains in one process or in many.
  void backward(const torch::Tensor& loss);
  /// Under DDP, replaces the gradients of every registered module's parameters by their mean
  /// over all ranks (in size-bounded buckets) and gives every rank rank 0's buffers (e.g.
  /// BatchNorm statistics); nothing in a single process. For steps that run backward
  /// themselves (several losses, gradient accumulation): call it once before the optimizer step.
  void sync_gradients();

  /// The mean / sum of `value` over all ranks (every rank gets the result); the value itself in
  /// a single process.
  torch::Tensor reduce_mean(const torch::Tensor& value) const;
  torch::Tensor reduce_sum(const torch::Tensor& value) const;

  const torch::Device& device() const { return assignment_.device; }
  /// Every device of the task: several with -mc (multi_GPU) without DDP; device() otherwise.
  const std::vector<torch::Device>& devices() const { return assignment_.devices; }
  int rank() const { return assignment_.rank; }
  int world_size() const { return assignment_.world_size; }
  /// The ranks of a DDP run, for collectives of your own; nullptr in a single process.
  Communicator* communicator() const { return assignment_.communicator.get(); }
  const Json& args() const { return args_; }

  /// Set by the runtime before init().
  void place(const DeviceAssignment& assignment, const Json& args);

  using ModuleList = std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>>;
  using OptimizerList = std::vector<std::pair<std::string, std::shared_ptr<torch::optim::Optimizer>>>;
  using LrSchedulerList = std::vector<std::pair<std::string, std::shared_ptr<LrScheduler>>>;
  const ModuleList& modules() const { return modules_; }
  const OptimizerList& optimizers() const { return optimizers_; }
  const LrSchedulerList& lr_schedulers() const { return lr_schedulers_; }

 private:
  DeviceAssignment assignment_;
  Json args_ = Json::object();
  ModuleList modules_;
  OptimizerList optimizers_;
  LrSchedulerList lr_schedulers_;
};

Registry<Runner>& runner_registry();

}  // namespace dlnest

/// Makes `Class` (a Runner) selectable as `"runner_name": "Class"`.
#define DLNEST_REGISTER_RUNNER(Class)                                     \
  static ::dlnest::Registration<::dlnest::Runner, Class> dlnest_runner_##Class( \
      ::dlnest::runner_registry(), #Class)
