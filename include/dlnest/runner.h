// Runner: the model and its optimisation step. Modules, optimizers and LR schedulers registered
// here are checkpointed and restored by the runtime without user code.
#pragma once

#include <torch/torch.h>

#include <map>
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

/// How the step values of a name logged with Runner::log become its epoch value.
enum class Aggregation { kMean, kMin, kMax, kLast };

/// Options of Runner::log, chained like libtorch's: `LogOptions().aggregation(Aggregation::kMax)`.
class LogOptions {
 public:
  /// How the epoch record folds the name's step values (mean by default).
  LogOptions& aggregation(Aggregation value) {
    aggregation_ = value;
    return *this;
  }
  /// Under DDP, records the mean over all ranks instead of rank 0's value. Every rank must then
  /// log the same reduced names in every step (they are reduced together, in one collective).
  LogOptions& reduce_over_ranks(bool value = true) {
    reduce_over_ranks_ = value;
    return *this;
  }
  Aggregation aggregation() const { return aggregation_; }
  bool reduce_over_ranks() const { return reduce_over_ranks_; }

 private:
  Aggregation aggregation_ = Aggregation::kMean;
  bool reduce_over_ranks_ = false;
};

/// A value given to Runner::log or log_epoch: a number, or a scalar tensor read by the runtime
/// at the step's end (all of a step's tensors in one copy to the CPU).
struct LoggedValue {
  double number = 0;
  torch::Tensor tensor;  ///< defined: the value is this tensor's, not `number`
  LogOptions options;
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

  /// Logs the scalar `name` of this training step: metrics.jsonl, metrics.csv and TensorBoard
  /// get a step record with it, and the epoch record its aggregate over the epoch's steps
  /// (docs/training.md). A second call for `name` in the same step replaces the first.
  void log(const std::string& name, double value, const LogOptions& options = LogOptions());
  /// The same for a scalar tensor (e.g. a loss), without a device sync at the call.
  void log(const std::string& name, const torch::Tensor& value,
           const LogOptions& options = LogOptions());
  /// Logs `name` for the current epoch as a whole (e.g. a validation score): it goes to the
  /// epoch record as it is. `options.reduce_over_ranks()` applies; the aggregation does not.
  void log_epoch(const std::string& name, double value, const LogOptions& options = LogOptions());
  void log_epoch(const std::string& name, const torch::Tensor& value,
                 const LogOptions& options = LogOptions());

  using LoggedValues = std::map<std::string, LoggedValue>;
  /// For the runtime: the values logged since the last call, by log() / by log_epoch().
  LoggedValues take_step_values() { return std::exchange(step_values_, {}); }
  LoggedValues take_epoch_values() { return std::exchange(epoch_values_, {}); }

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
  LoggedValues step_values_;
  LoggedValues epoch_values_;
};

Registry<Runner>& runner_registry();

}  // namespace dlnest

/// Makes `Class` (a Runner) selectable as `"runner_name": "Class"`.
#define DLNEST_REGISTER_RUNNER(Class)                                     \
  static ::dlnest::Registration<::dlnest::Runner, Class> dlnest_runner_##Class( \
      ::dlnest::runner_registry(), #Class)
