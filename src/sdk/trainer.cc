#include "sdk/trainer.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <utility>

#include "dlnest/save_package.h"
#include "env/path.h"
#include "package/progress_file.h"
#include "sdk/checkpoint_io.h"
#include "sdk/comm_group.h"
#include "sdk/gradient_sync.h"
#include "sdk/metrics_recorder.h"
#include "sdk/train_plugins.h"

namespace dlnest {

namespace {

/// An error already labelled with where it happened.
struct StageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Thrown once the ranks agreed to stop and the interrupt checkpoint is written. Not a
/// std::exception, so that no stage takes it for an error of user code.
struct Interrupted {
  Interruption where;
};

using Clock = std::chrono::steady_clock;

std::string where(const StageInfo& info) {
  std::string out = std::string("stage ") + stage_name(info.stage);
  if (info.epoch >= 0) out += " (epoch " + std::to_string(info.epoch);
  if (info.epoch >= 0 && info.iter >= 0) out += ", iter " + std::to_string(info.iter);
  if (info.epoch >= 0) out += ")";
  return out;
}

/// Runs `f`, turning any exception into a StageError labelled `label`.
template <typename F>
auto guarded(const std::string& label, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const StageError&) {
    throw;
  } catch (const c10::Error& e) {
    throw StageError(label + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw StageError(label + ": " + e.what());
  }
}

/// The latest `loss`: the log's, else the one logged with Runner::log.
std::optional<double> latest_loss(const Json& log, const std::map<std::string, double>& scalars) {
  auto it = log.find("loss");
  if (it != log.end() && it->is_number()) return it->get<double>();
  if (it != log.end() && it->is_array() && !it->empty() && it->back().is_number()) {
    return it->back().get<double>();
  }
  auto logged = scalars.find("loss");
  if (logged != scalars.end()) return logged->second;
  return std::nullopt;
}

/// Refuses a name no class of `registry` has, listing the names it has.
template <typename Base>
Status check_registered(const Registry<Base>& registry, const Json& args, const char* key) {
  auto it = args.find(key);
  const std::string name = it != args.end() && it->is_string() ? it->get<std::string>() : "";
  const std::vector<std::string> names = registry.names();
  if (std::find(names.begin(), names.end(), name) != names.end()) return Status::ok();
  std::string known;
  for (const std::string& n : names) known += (known.empty() ? "" : ", ") + n;
  return Status::invalid_argument(std::string(key) + " \"" + name +
                                  "\" is not registered by the project (registered: " +
                                  (known.empty() ? "none" : known) + ")");
}

Status check_classes(const Json& args) {
  DLNEST_RETURN_IF_ERROR(check_registered(runner_registry(), args, "runner_name"));
  DLNEST_RETURN_IF_ERROR(check_registered(dataset_registry(), args, "dataset_name"));
  return check_registered(life_cycle_registry(), args, "life_cycle_name");
}

template <typename Base>
std::unique_ptr<Base> make(const Registry<Base>& registry, const Json& args, const char* key) {
  const std::string name = args[key].get<std::string>();
  return guarded(std::string(key) + " \"" + name + "\"", [&] { return registry.make(name); });
}

/// Stages run once per epoch or less: under DDP their before-hooks' Skip is rank 0's decision
/// on every rank. Per-step stages decide locally (docs/training.md); Visualize runs on rank 0.
bool decided_by_rank_zero(Stage s) {
  return s != Stage::kModelOneStep && s != Stage::kValidateABatch && s != Stage::kVisualize;
}

/// The seed of a DDP rank's generators in `epoch`: distinct per rank (dropout masks differ) and
/// independent of where a run was continued.
uint64_t rank_seed(uint64_t seed, int rank, int epoch) {
  uint64_t x = seed + 0x9E3779B97F4A7C15ULL * (static_cast<uint64_t>(rank) + 1) +
               0xBF58476D1CE4E5B9ULL * static_cast<uint64_t>(epoch + 1);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

class TrainLoop {
 public:
  TrainLoop(SavePackage& package, const TrainRequest& request, DeviceAssignment assignment,
            const CheckpointArgs& checkpoint_args)
      : package_(package),
        request_(request),
        args_(package.args()),
        device_(assignment.device),
        assignment_(std::move(assignment)),
        comm_(assignment_.communicator.get()),
        lead_(assignment_.rank == 0),
        checkpoint_args_(checkpoint_args),
        recorder_(comm_, device_) {}

  void run(const std::optional<std::string>& checkpoint) {
    runner_ = make(runner_registry(), args_, "runner_name");
    dataset_ = make(dataset_registry(), args_, "dataset_name");
    life_cycle_ = make(life_cycle_registry(), args_, "life_cycle_name");
    runner_->place(assignment_, args_);
    life_cycle_->attach(runner_.get(), dataset_.get(), &args_);
    try {
      guarded("start of training", [&] { plugins_.start(args_, plugin_context()); });
      stage(Stage::kAll, -1, -1, [&] {
        stage(Stage::kDatasetInit, -1, -1, [&] { parts_ = dataset_->init(args_); });
        stage(Stage::kModelInit, -1, -1, [&] { model_init(checkpoint); });
        stage(Stage::kTrain, -1, -1, [&] { train(); });
      });
      // No rank leaves while another may still be talking to it.
      if (comm_ != nullptr) guarded("end of training", [&] { comm_->barrier(); });
    } catch (const StageError& e) {
      plugins_.abort(e.what());
      throw;
    }
    guarded("end of training", [&] { plugins_.finish(); });
  }

 private:
  template <typename Body>
  void stage(Stage s, int epoch, int iter, Body&& body) {
    const StageInfo info{s, epoch, iter};
    const std::string label = where(info);
    guarded(label, [&] { plugins_.before(info); });
    bool run = guarded(label, [&] { return life_cycle_->before(info); }) == Action::kRun;
    if (decided_by_rank_zero(s)) run = guarded(label, [&] { return agree(run); });
    if (run) guarded(label, body);
    guarded(label, [&] { plugins_.after(info); });
    guarded(label, [&] { life_cycle_->after(info); });
  }

  /// What the plugins see of this run.
  PluginContext plugin_context() {
    PluginContext context;
    context.args = &args_;
    context.runner = runner_.get();
    context.dataset = dataset_.get();
    context.log = &log_;
    context.package_dir = package_.root();
    context.rank = assignment_.rank;
    context.world_size = assignment_.world_size;
    return context;
  }

  /// Rank 0's `decision`, on every rank: the LifeCycle's decisions must not split the ranks.
  bool agree(bool decision) {
    if (comm_ == nullptr) return decision;
    std::vector<torch::Tensor> value = {torch::full(
        {1}, decision ? 1 : 0, torch::TensorOptions().dtype(torch::kInt).device(device_))};
    comm_->broadcast(value, /*root=*/0);
    return value[0].item<int>() != 0;
  }

  /// Rank 0's result of `ask` (a LifeCycle decision), on every rank; errors are labelled `label`.
  template <typename Ask>
  bool decide(const std::string& label, Ask&& ask) {
    return guarded(label, [&] { return agree(ask()); });
  }

  /// Every rank starts from rank 0's parameters and buffers, and sees its shard of the data.
  void distribute() {
    parts_.train->set_shard(assignment_.rank, assignment_.world_size);
    if (parts_.validation) parts_.validation->set_shard(assignment_.rank, assignment_.world_size);
    std::vector<torch::Tensor> state;
    for (const auto& [name, module] : runner_->modules()) {
      for (const torch::Tensor& t : module->parameters()) state.push_back(t);
      for (const torch::Tensor& t : module->buffers()) state.push_back(t);
    }
    broadcast_tensors(*comm_, state, /*root=*/0);
  }

  void model_init(const std::optional<std::string>& checkpoint) {
    runner_->init(args_, parts_.info);
    runner_->init_optimizer();
    if (!checkpoint) {
      log_ = runner_->init_log();
      return;
    }
    const TrainProgress p = read_checkpoint(*checkpoint, device_, *runner_, *dataset_, *life_cycle_,
                                            assignment_.rank);
    log_ = p.log;
    finished_epoch_ = p.finished_epoch;
    resume_iter_ = p.next_iter;
    resumed_ = true;
    legacy_checkpoint_ = p.metrics.is_null();
    if (!legacy_checkpoint_) recorder_.restore(p.metrics);
  }

  /// Rank 0 opens the metrics files; a continued run first drops the steps after its checkpoint.
  void open_metrics() {
    if (legacy_checkpoint_) {
      // A checkpoint older than the metrics state: its step, counted as an uninterrupted run.
      recorder_.restore_step((finished_epoch_ + 1) * parts_.train->batches_per_epoch() +
                             resume_iter_);
    }
    if (!lead_) return;
    auto opened = MetricsLog::open(
        package_.root(), resumed_ ? std::optional<int64_t>(recorder_.global_step()) : std::nullopt,
        unix_time());
    if (!opened.is_ok()) throw std::runtime_error(opened.status().message());
    metrics_ = std::move(*opened);
  }

  /// Rank 0 appends `record` to the metrics files.
  void write_metrics(const MetricsRecord& record) {
    if (!lead_) return;
    const Status written = metrics_->write(record);
    if (!written.is_ok()) throw std::runtime_error(written.message());
  }

  void train() {
    TORCH_CHECK(parts_.train != nullptr, "Dataset::init returned no train loader");
    parts_.train->set_device(device_);
    if (parts_.validation) parts_.validation->set_device(device_);
    if (comm_ != nullptr) distribute();
    open_metrics();
    const uint64_t seed = args_.value("seed", uint64_t{0});
    last_save_ = Clock::now();
    for (int epoch = finished_epoch_ + 1;; ++epoch) {
      const auto start = Clock::now();
      const int64_t first = std::exchange(resume_iter_, 0);
      if (first > 0) {
        // Resumed inside the epoch: its before-hook ran before the interrupt, and the
        // generators are the checkpoint's.
        guarded(where({Stage::kOneEpoch, epoch, -1}), [&] { one_epoch(epoch, first); });
        guarded(where({Stage::kOneEpoch, epoch, -1}), [&] {
          plugins_.after({Stage::kOneEpoch, epoch, -1});
          life_cycle_->after({Stage::kOneEpoch, epoch, -1});
        });
      } else {
        if (comm_ != nullptr) torch::manual_seed(rank_seed(seed, assignment_.rank, epoch));
        recorder_.start_epoch();
        stage(Stage::kOneEpoch, epoch, -1, [&] { one_epoch(epoch, 0); });
      }
      if (request_.on_epoch_end) request_.on_epoch_end();
      const std::string label = "epoch " + std::to_string(epoch) + ": LifeCycle::";
      guarded(label + "command_line_output",
              [&] { life_cycle_->command_line_output(epoch, log_, args_); });
      if (decide(label + "need_validation",
                 [&] { return life_cycle_->need_validation(epoch, log_, args_); })) {
        if (request_.on_stage) request_.on_stage(progress_stage::kValidation);
        stage(Stage::kValidation, epoch, -1, [&] { validation(epoch); });
      }
      if (decide(label + "need_save_model",
                 [&] { return life_cycle_->need_save_model(epoch, log_, args_); })) {
        if (request_.on_stage) request_.on_stage(progress_stage::kSave);
        stage(Stage::kSaveModel, epoch, -1, [&] { save_model(epoch); });
      }
      const std::chrono::duration<double> took = Clock::now() - start;
      write_metrics(recorder_.epoch_end(*runner_, epoch, took.count(), log_));
      if (!decide(label + "need_continue_train",
                  [&] { return life_cycle_->need_continue_train(epoch, log_, args_); })) {
        return;
      }
      const Checkpoint c = check_point(false);
      if (c.stop) interrupt(c.signal, epoch + 1, 0, parts_.train->batches_per_epoch());
    }
  }

  /// What the ranks agreed on at a step's (or an epoch's) end.
  struct Checkpoint {
    bool stop = false;
    int signal = 0;  // this process's own request
    bool save = false;
  };

  /// Whether to stop, and (inside an epoch, `periodic`) whether a periodic save is due: this
  /// process's stop request and rank 0's clock, agreed by every rank.
  Checkpoint check_point(bool periodic) {
    Checkpoint c;
    c.signal = request_.stop_signal ? request_.stop_signal() : 0;
    c.stop = c.signal != 0;
    const double minutes = std::chrono::duration<double>(Clock::now() - last_save_).count() / 60;
    c.save = periodic && checkpoint_args_.every_minutes > 0 &&
             minutes >= checkpoint_args_.every_minutes;
    if (comm_ == nullptr) return c;
    std::vector<torch::Tensor> flags = {torch::tensor(
        {c.stop ? 1 : 0, lead_ && c.save ? 1 : 0},
        torch::TensorOptions().dtype(torch::kInt).device(device_))};
    comm_->all_reduce_sum(flags);
    const torch::Tensor agreed = flags[0].to(torch::kCPU);
    c.stop = agreed[0].item<int>() > 0;
    c.save = agreed[1].item<int>() > 0;
    return c;
  }

  /// Writes the interrupt checkpoint of a run at step `step` of `epoch` and ends the run.
  [[noreturn]] void interrupt(int signal, int epoch, int64_t step, int64_t steps) {
    Interruption where{signal, epoch, step, steps, -1, ""};
    where.checkpoint_id = save_inside(epoch, step, /*interrupt=*/true);
    if (where.checkpoint_id >= 0) {
      where.checkpoint_file = *package_.checkpoint_path(where.checkpoint_id);
    }
    throw Interrupted{where};
  }

  /// Saves a checkpoint that resumes at step `step` of `epoch`: the interrupt checkpoint, or a
  /// periodic one through the tracks. Returns its id on rank 0, -1 on the others.
  int save_inside(int epoch, int64_t step, bool interrupt) {
    TrainProgress progress{epoch - 1, step, log_, recorder_.state(), {}};
    if (comm_ != nullptr) progress.rank_rng = gather_rng();
    int id = -1;
    if (lead_) {
      const FileWriter writer = [&](WritableFile& out) {
        return write_checkpoint(out, *runner_, *dataset_, *life_cycle_, progress);
      };
      auto saved = interrupt ? package_.save_interrupt_checkpoint(writer)
                             : package_.save_checkpoint(writer, /*hold=*/false);
      if (!saved.is_ok()) {
        throw std::runtime_error("cannot save checkpoint: " + saved.status().message());
      }
      id = *saved;
    }
    last_save_ = Clock::now();
    if (comm_ != nullptr) comm_->barrier();
    return id;
  }

  /// Every rank's generator states, on rank 0 (empty elsewhere).
  std::vector<torch::Tensor> gather_rng() {
    const torch::Tensor mine = rng_state();
    std::vector<torch::Tensor> all;
    for (int r = 0; r < assignment_.world_size; ++r) {
      std::vector<torch::Tensor> one = {
          (r == assignment_.rank ? mine : torch::zeros_like(mine)).to(device_)};
      comm_->broadcast(one, /*root=*/r);
      if (lead_) all.push_back(one[0].to(torch::kCPU));
    }
    return all;
  }

  /// The epoch's steps from step `first` on; after each, a stop or a periodic save if due.
  void one_epoch(int epoch, int64_t first) {
    DataLoader& loader = *parts_.train;
    loader.start_epoch(epoch, first);
    const int64_t steps = loader.batches_per_epoch();
    StepProgress progress{epoch, 0, steps, std::nullopt, {}};
    for (int iter = static_cast<int>(first);; ++iter) {
      std::optional<Batch> batch = loader.next();
      if (!batch) break;
      stage(Stage::kModelOneStep, epoch, iter,
            [&] { runner_->run_one_step(*batch, log_, iter, epoch); });
      if (lead_ && life_cycle_->need_visualize(epoch, iter, log_, args_)) {
        stage(Stage::kVisualize, epoch, iter, [&] { runner_->visualize(epoch, iter, log_); });
      }
      const MetricsRecord step = recorder_.step(*runner_, epoch);
      if (!step.values.empty()) write_metrics(step);  // a step that logged nothing: no record
      if (request_.on_step) {
        progress.step = iter + 1;
        progress.scalars = recorder_.latest();
        progress.loss = latest_loss(log_, progress.scalars);
        request_.on_step(progress);
      }
      if (iter + 1 < steps) step_end(epoch, iter + 1, steps);  // else the epoch's end decides
    }
  }

  /// After `step` steps of `epoch`: stops, or saves a periodic checkpoint, when due.
  void step_end(int epoch, int64_t step, int64_t steps) {
    const Checkpoint c = check_point(true);
    if (c.stop) interrupt(c.signal, epoch, step, steps);
    const int every = checkpoint_args_.every_steps;
    if (c.save || (every > 0 && step % every == 0)) save_inside(epoch, step, false);
  }

  void validation(int epoch) {
    torch::NoGradGuard no_grad;
    runner_->validation_init();
    if (parts_.validation) {
      DataLoader& loader = *parts_.validation;
      loader.start_epoch(0);
      for (int iter = 0;; ++iter) {
        std::optional<Batch> batch = loader.next();
        if (!batch) break;
        stage(Stage::kValidateABatch, epoch, iter,
              [&] { runner_->validate_a_batch(*batch, iter); });
      }
    }
    stage(Stage::kValidationAnalyze, epoch, -1, [&] { runner_->validation_analyze(log_); });
  }

  /// Rank 0 writes; the others wait for it, so that none runs ahead of a checkpoint.
  void save_model(int epoch) {
    const bool hold = agree(life_cycle_->hold_this_checkpoint(epoch, log_, args_));
    last_save_ = Clock::now();
    if (lead_) {
      const TrainProgress progress{epoch, 0, log_, recorder_.state(), {}};
      auto id = package_.save_checkpoint(
          [&](WritableFile& out) {
            return write_checkpoint(out, *runner_, *dataset_, *life_cycle_, progress);
          },
          hold);
      if (!id.is_ok()) throw std::runtime_error("cannot save checkpoint: " + id.status().message());
    }
    if (comm_ != nullptr) comm_->barrier();
  }

  SavePackage& package_;
  const TrainRequest& request_;
  const Json args_;
  const torch::Device device_;
  const DeviceAssignment assignment_;
  Communicator* const comm_;  // nullptr in a single process
  const bool lead_;           // rank 0: visualises, saves, writes the metrics files
  const CheckpointArgs checkpoint_args_;
  MetricsRecorder recorder_;
  std::unique_ptr<MetricsLog> metrics_;  // rank 0's
  bool resumed_ = false;
  bool legacy_checkpoint_ = false;  // resumed from a checkpoint without the metrics state
  std::unique_ptr<Runner> runner_;
  std::unique_ptr<Dataset> dataset_;
  std::unique_ptr<LifeCycle> life_cycle_;
  PluginSet plugins_;  // after the objects it points to: destroyed first
  DatasetParts parts_;
  Json log_ = Json::object();
  int finished_epoch_ = -1;
  int64_t resume_iter_ = 0;  // steps of epoch finished_epoch_ + 1 the checkpoint had done
  Clock::time_point last_save_;
};

Result<torch::Device> parse_device(const std::string& text) {
  try {
    torch::Device device(text);
    if (device.is_cuda() && !torch::cuda::is_available()) {
      return Status::invalid_argument("device " + text + ": no CUDA GPU is available");
    }
    return device;
  } catch (const c10::Error& e) {
    return Status::invalid_argument("bad device \"" + text + "\": " + e.what_without_backtrace());
  }
}

/// The task's devices and, under DDP, its communication group.
Result<DeviceAssignment> assign_devices(const TrainRequest& request) {
  DeviceAssignment assignment;
  DLNEST_ASSIGN_OR_RETURN(assignment.device, parse_device(request.device));
  for (const std::string& text : request.devices) {
    DLNEST_ASSIGN_OR_RETURN(torch::Device device, parse_device(text));
    assignment.devices.push_back(device);
  }
  const DistributedRank& d = request.distributed;
  assignment.rank = d.rank;
  assignment.world_size = d.world_size;
  if (d.world_size == 1) return assignment;
  CommGroupOptions options;
  options.rank = d.rank;
  options.world_size = d.world_size;
  options.master_addr = d.master_addr;
  options.master_port = d.master_port;
  options.device = assignment.device;
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(d.timeout_s * 1000));
  DLNEST_ASSIGN_OR_RETURN(assignment.communicator, connect_comm_group(options));
  return assignment;
}

}  // namespace

Result<TrainOutcome> run_training(const TrainRequest& request) {
  auto package = SavePackage::open(request.package_dir);
  if (!package.is_ok()) return package.status();
  const Json& args = package->args();
  DLNEST_RETURN_IF_ERROR(check_known_keys(args, path::join(package->root(), SavePackage::kArgsFile)));
  DLNEST_RETURN_IF_ERROR(check_classes(args));
  DLNEST_RETURN_IF_ERROR(check_plugins(args));
  DLNEST_ASSIGN_OR_RETURN(const CheckpointArgs checkpoint_args, CheckpointArgs::from_args(args));
  std::optional<std::string> checkpoint;
  if (request.resume) {
    // Under DDP only rank 0 edits the package; the checkpoint itself stays where it is.
    if (request.checkpoint_id >= 0 && request.distributed.rank == 0) {
      DLNEST_RETURN_IF_ERROR(package->set_checkpoint_id(request.checkpoint_id));
    }
    auto file = package->checkpoint_path(request.checkpoint_id);
    if (!file.is_ok()) return file.status().with_context("cannot continue");
    checkpoint = *file;
  }
  DLNEST_ASSIGN_OR_RETURN(DeviceAssignment assignment, assign_devices(request));
  torch::manual_seed(args.value("seed", uint64_t{0}));
  TrainOutcome outcome;
  try {
    TrainLoop loop(*package, request, std::move(assignment), checkpoint_args);
    loop.run(checkpoint);
  } catch (const StageError& e) {
    return Status::failed_precondition(e.what());
  } catch (const Interrupted& stop) {
    outcome.interrupted = stop.where;
  }
  return outcome;
}

}  // namespace dlnest
