// LifeCycle: when to visualize, validate, save and stop, and hooks around every stage of the run.
// Torch-free, so a project's LifeCycle.cpp compiles in a moment.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "dlnest/registry.h"

namespace dlnest {

using Json = nlohmann::json;

class Runner;
class Dataset;

/// The stages of a run, in the order of docs/training.md. Every stage has a before-hook and an
/// after-hook.
enum class Stage {
  kAll,
  kDatasetInit,
  kModelInit,
  kTrain,
  kOneEpoch,
  kModelOneStep,
  kVisualize,
  kValidation,
  kValidateABatch,
  kValidationAnalyze,
  kSaveModel,
};

/// "OneEpoch", "ModelOneStep", ...
const char* stage_name(Stage stage);

/// What a before-hook decides: run the stage, or skip it (its after-hook still runs).
enum class Action { kRun, kSkip };

/// Where the run is when a hook is called. `iter` is -1 outside the batch loops.
struct StageInfo {
  Stage stage;
  int epoch = -1;
  int iter = -1;
};

class LifeCycle {
 public:
  virtual ~LifeCycle() = default;

  /// After each training step: call Runner::visualize? (rank 0 only under DDP)
  virtual bool need_visualize(int epoch, int iter, Json& log, const Json& args);
  /// After each epoch: run the validation stage?
  virtual bool need_validation(int epoch, Json& log, const Json& args);
  /// After each epoch: print what the user wants to see.
  virtual void command_line_output(int epoch, Json& log, const Json& args);
  /// After each epoch (and validation): save a checkpoint?
  virtual bool need_save_model(int epoch, Json& log, const Json& args);
  /// When saving: keep this checkpoint in the consistent track?
  virtual bool hold_this_checkpoint(int epoch, Json& log, const Json& args);
  /// After each epoch: train another one? The default stops after `args["epochs"]` epochs.
  virtual bool need_continue_train(int epoch, Json& log, const Json& args);

  /// Called before every stage; returning Action::kSkip skips it.
  virtual Action before(const StageInfo& info);
  /// Called after every stage, skipped or not.
  virtual void after(const StageInfo& info);

  /// State saved in every checkpoint (for example the best accuracy so far).
  virtual Json state_dict() const { return Json::object(); }
  virtual void load_state_dict(const Json& state);

  /// The objects of the run, set before the first hook.
  Runner* runner() const { return runner_; }
  Dataset* dataset() const { return dataset_; }
  const Json& args() const { return *args_; }
  void attach(Runner* runner, Dataset* dataset, const Json* args);

 private:
  Runner* runner_ = nullptr;
  Dataset* dataset_ = nullptr;
  const Json* args_ = nullptr;
};

/// The life cycles of the loaded project, by class name.
Registry<LifeCycle>& life_cycle_registry();

}  // namespace dlnest

/// Makes `Class` (a LifeCycle) selectable as `"life_cycle_name": "Class"`.
#define DLNEST_REGISTER_LIFE_CYCLE(Class)                                        \
  static ::dlnest::Registration<::dlnest::LifeCycle, Class> dlnest_life_cycle_##Class( \
      ::dlnest::life_cycle_registry(), #Class)
