#include "sdk/analyzer.h"

#include <torch/torch.h>

#include "dlnest/experiment.h"
#include "dlnest/life_cycle.h"
#include "dlnest/registry.h"
#include "dlnest/save_package.h"
#include "sdk/checkpoint_io.h"

namespace dlnest {
namespace {

template <typename Base>
Result<std::unique_ptr<Base>> make_named(const Registry<Base>& registry, const Json& args,
                                         const char* key) {
  const std::string name = args.value(key, std::string());
  auto object = registry.make(name);
  if (object != nullptr) return object;
  std::string known;
  for (const std::string& n : registry.names()) known += (known.empty() ? "" : ", ") + n;
  return Status::not_found(std::string(key) + " \"" + name + "\" is not registered by the " +
                           "project (registered: " + (known.empty() ? "none" : known) + ")");
}

/// Runs `body`, turning an exception into an error prefixed with `what`.
template <typename Body>
Status guarded(const std::string& what, Body&& body) {
  try {
    body();
    return Status::ok();
  } catch (const c10::Error& e) {
    return Status::failed_precondition(what + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return Status::failed_precondition(what + ": " + e.what());
  } catch (...) {
    return Status::failed_precondition(what + ": unknown exception");
  }
}

class Session : public AnalysisSession {
 public:
  Session(SavePackage package, torch::Device device) : package_(std::move(package)), device_(device) {
    args_ = package_.args();
  }

  Status load(int checkpoint_id) {
    DLNEST_ASSIGN_OR_RETURN(runner_, make_named(runner_registry(), args_, "runner_name"));
    DLNEST_ASSIGN_OR_RETURN(dataset_, make_named(dataset_registry(), args_, "dataset_name"));
    DLNEST_ASSIGN_OR_RETURN(life_cycle_, make_named(life_cycle_registry(), args_, "life_cycle_name"));
    DeviceAssignment assignment;
    assignment.device = device_;
    runner_->place(assignment, args_);
    life_cycle_->attach(runner_.get(), dataset_.get(), &args_);
    DLNEST_RETURN_IF_ERROR(guarded("Dataset::init", [&] { parts_ = dataset_->init(args_); }));
    if (parts_.train) parts_.train->set_device(device_);
    if (parts_.validation) parts_.validation->set_device(device_);
    DLNEST_RETURN_IF_ERROR(guarded("Runner::init", [&] {
      runner_->init(args_, parts_.info);
      runner_->init_optimizer();
    }));
    if (checkpoint_id == kNoCheckpoint) {
      log_ = runner_->init_log();
      loaded_ = "no checkpoint";
      return Status::ok();
    }
    DLNEST_ASSIGN_OR_RETURN(std::string file, package_.checkpoint_path(checkpoint_id));
    DLNEST_RETURN_IF_ERROR(guarded("loading " + file, [&] {
      const TrainProgress p = read_checkpoint(file, device_, *runner_, *dataset_, *life_cycle_);
      log_ = p.log;
      loaded_ = "checkpoint " + file.substr(file.find_last_of('/') + 1) + " (after epoch " +
                std::to_string(p.finished_epoch) + ")";
    }));
    return Status::ok();
  }

  Status run(ExperimentEntry entry, const std::string& script_name) override {
    Experiment experiment{args_, *runner_, *dataset_, parts_, log_};
    return guarded(script_name, [&] { entry(experiment); });
  }

  std::string describe() const override {
    return loaded_ + " of " + package_.root() + " on " + device_.str();
  }

 private:
  SavePackage package_;
  torch::Device device_;
  Json args_;
  std::unique_ptr<Runner> runner_;
  std::unique_ptr<Dataset> dataset_;
  std::unique_ptr<LifeCycle> life_cycle_;
  DatasetParts parts_;
  Json log_ = Json::object();
  std::string loaded_;
};

}  // namespace

Result<std::unique_ptr<AnalysisSession>> AnalysisSession::open(const AnalyzeRequest& request) {
  std::optional<torch::Device> device;
  Status s = guarded("device " + request.device, [&] { device.emplace(request.device); });
  if (!s.is_ok()) return s;
  if (device->is_cuda() && !torch::cuda::is_available()) {
    return Status::invalid_argument("device " + request.device + ": no CUDA GPU is available");
  }
  DLNEST_ASSIGN_OR_RETURN(SavePackage package, SavePackage::open(request.package_dir));
  torch::manual_seed(package.args().value("seed", uint64_t{0}));
  auto session = std::make_unique<Session>(std::move(package), *device);
  DLNEST_RETURN_IF_ERROR(session->load(request.checkpoint_id));
  return std::unique_ptr<AnalysisSession>(std::move(session));
}

}  // namespace dlnest
