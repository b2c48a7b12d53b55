#include "sdk/trainer.h"

#include <chrono>
#include <fstream>
#include <stdexcept>

#include "dlnest/save_package.h"
#include "env/path.h"
#include "sdk/checkpoint_io.h"

namespace dlnest {

namespace {

/// An error already labelled with where it happened.
struct StageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

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

std::optional<double> latest_loss(const Json& log) {
  auto it = log.find("loss");
  if (it == log.end()) return std::nullopt;
  if (it->is_number()) return it->get<double>();
  if (it->is_array() && !it->empty() && it->back().is_number()) return it->back().get<double>();
  return std::nullopt;
}

/// One line of metrics.jsonl: the log's scalars, and the last value of its numeric lists.
Json metrics_line(int epoch, double seconds, const Json& log) {
  Json line = {{"epoch", epoch}, {"seconds", seconds}};
  for (const auto& [key, value] : log.items()) {
    if (value.is_primitive() && !value.is_null()) {
      line[key] = value;
    } else if (value.is_array() && !value.empty() && value.back().is_number()) {
      line[key] = value.back();
    }
  }
  return line;
}

template <typename Base>
std::unique_ptr<Base> make(const Registry<Base>& registry, const Json& args, const char* key) {
  const std::string name = args.value(key, std::string());
  auto object = registry.make(name);
  if (object == nullptr) {
    std::string known;
    for (const std::string& n : registry.names()) known += (known.empty() ? "" : ", ") + n;
    throw StageError(std::string(key) + " \"" + name + "\" is not registered by the project " +
                     "(registered: " + (known.empty() ? "none" : known) + ")");
  }
  return object;
}

class TrainLoop {
 public:
  TrainLoop(SavePackage& package, const TrainRequest& request, torch::Device device)
      : package_(package), request_(request), args_(package.args()), device_(device) {}

  void run(const std::optional<std::string>& checkpoint) {
    runner_ = make(runner_registry(), args_, "runner_name");
    dataset_ = make(dataset_registry(), args_, "dataset_name");
    life_cycle_ = make(life_cycle_registry(), args_, "life_cycle_name");
    runner_->place(RunPlacement{device_, 0, 1}, args_);
    life_cycle_->attach(runner_.get(), dataset_.get(), &args_);
    stage(Stage::kAll, -1, -1, [&] {
      stage(Stage::kDatasetInit, -1, -1, [&] { parts_ = dataset_->init(args_); });
      stage(Stage::kModelInit, -1, -1, [&] { model_init(checkpoint); });
      stage(Stage::kTrain, -1, -1, [&] { train(); });
    });
  }

 private:
  template <typename Body>
  void stage(Stage s, int epoch, int iter, Body&& body) {
    const StageInfo info{s, epoch, iter};
    const std::string label = where(info);
    if (guarded(label, [&] { return life_cycle_->before(info); }) == Action::kRun) {
      guarded(label, body);
    }
    guarded(label, [&] { life_cycle_->after(info); });
  }

  void model_init(const std::optional<std::string>& checkpoint) {
    runner_->init(args_, parts_.info);
    runner_->init_optimizer();
    if (!checkpoint) {
      log_ = runner_->init_log();
      return;
    }
    const TrainProgress p = read_checkpoint(*checkpoint, device_, *runner_, *dataset_, *life_cycle_);
    log_ = p.log;
    finished_epoch_ = p.finished_epoch;
  }

  void train() {
    TORCH_CHECK(parts_.train != nullptr, "Dataset::init returned no train loader");
    parts_.train->set_device(device_);
    if (parts_.validation) parts_.validation->set_device(device_);
    for (int epoch = finished_epoch_ + 1;; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      stage(Stage::kOneEpoch, epoch, -1, [&] { one_epoch(epoch); });
      if (request_.on_epoch_end) request_.on_epoch_end();
      const std::string label = "epoch " + std::to_string(epoch) + ": LifeCycle::";
      guarded(label + "command_line_output",
              [&] { life_cycle_->command_line_output(epoch, log_, args_); });
      if (guarded(label + "need_validation",
                  [&] { return life_cycle_->need_validation(epoch, log_, args_); })) {
        stage(Stage::kValidation, epoch, -1, [&] { validation(epoch); });
      }
      if (guarded(label + "need_save_model",
                  [&] { return life_cycle_->need_save_model(epoch, log_, args_); })) {
        stage(Stage::kSaveModel, epoch, -1, [&] { save_model(epoch); });
      }
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      append_metrics(epoch, took.count());
      if (!guarded(label + "need_continue_train",
                   [&] { return life_cycle_->need_continue_train(epoch, log_, args_); })) {
        return;
      }
    }
  }

  void one_epoch(int epoch) {
    DataLoader& loader = *parts_.train;
    loader.start_epoch(epoch);
    StepProgress progress{epoch, 0, loader.batches_per_epoch(), std::nullopt};
    for (int iter = 0;; ++iter) {
      std::optional<Batch> batch = loader.next();
      if (!batch) break;
      stage(Stage::kModelOneStep, epoch, iter,
            [&] { runner_->run_one_step(*batch, log_, iter, epoch); });
      if (life_cycle_->need_visualize(epoch, iter, log_, args_)) {
        stage(Stage::kVisualize, epoch, iter, [&] { runner_->visualize(epoch, iter, log_); });
      }
      if (request_.on_step) {
        progress.step = iter + 1;
        progress.loss = latest_loss(log_);
        request_.on_step(progress);
      }
    }
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

  void save_model(int epoch) {
    const bool hold = life_cycle_->hold_this_checkpoint(epoch, log_, args_);
    const TrainProgress progress{epoch, log_};
    auto id = package_.save_checkpoint(
        [&](WritableFile& out) {
          return write_checkpoint(out, *runner_, *dataset_, *life_cycle_, progress);
        },
        hold);
    if (!id.is_ok()) throw std::runtime_error("cannot save checkpoint: " + id.status().message());
  }

  void append_metrics(int epoch, double seconds) {
    std::ofstream out(path::join(package_.root(), "metrics.jsonl"), std::ios::app);
    out << metrics_line(epoch, seconds, log_).dump() << "\n";
  }

  SavePackage& package_;
  const TrainRequest& request_;
  const Json args_;
  const torch::Device device_;
  std::unique_ptr<Runner> runner_;
  std::unique_ptr<Dataset> dataset_;
  std::unique_ptr<LifeCycle> life_cycle_;
  DatasetParts parts_;
  Json log_ = Json::object();
  int finished_epoch_ = -1;
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

}  // namespace

Status run_training(const TrainRequest& request) {
  auto device = parse_device(request.device);
  if (!device.is_ok()) return device.status();
  auto package = SavePackage::open(request.package_dir);
  if (!package.is_ok()) return package.status();
  std::optional<std::string> checkpoint;
  if (request.resume) {
    if (request.checkpoint_id >= 0) {
      DLNEST_RETURN_IF_ERROR(package->set_checkpoint_id(request.checkpoint_id));
    }
    auto file = package->checkpoint_path(request.checkpoint_id);
    if (!file.is_ok()) return file.status().with_context("cannot continue");
    checkpoint = *file;
  }
  torch::manual_seed(package->args().value("seed", uint64_t{0}));
  try {
    TrainLoop loop(*package, request, *device);
    loop.run(checkpoint);
  } catch (const StageError& e) {
    return Status::failed_precondition(e.what());
  }
  return Status::ok();
}

}  // namespace dlnest
