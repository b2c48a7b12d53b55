#include "dlnest/life_cycle.h"

namespace dlnest {

const char* stage_name(Stage stage) {
  switch (stage) {
    case Stage::kAll:
      return "All";
    case Stage::kDatasetInit:
      return "DatasetInit";
    case Stage::kModelInit:
      return "ModelInit";
    case Stage::kTrain:
      return "Train";
    case Stage::kOneEpoch:
      return "OneEpoch";
    case Stage::kModelOneStep:
      return "ModelOneStep";
    case Stage::kVisualize:
      return "Visualize";
    case Stage::kValidation:
      return "Validation";
    case Stage::kValidateABatch:
      return "ValidateABatch";
    case Stage::kValidationAnalyze:
      return "ValidationAnalyze";
    case Stage::kSaveModel:
      return "SaveModel";
  }
  return "Unknown";
}

bool LifeCycle::need_visualize(int, int, Json&, const Json&) { return false; }
bool LifeCycle::need_validation(int, Json&, const Json&) { return false; }
void LifeCycle::command_line_output(int, Json&, const Json&) {}
bool LifeCycle::need_save_model(int, Json&, const Json&) { return true; }
bool LifeCycle::hold_this_checkpoint(int, Json&, const Json&) { return false; }

bool LifeCycle::need_continue_train(int epoch, Json&, const Json& args) {
  return epoch + 1 < args.value("epochs", 1);
}

Action LifeCycle::before(const StageInfo&) { return Action::kRun; }
void LifeCycle::after(const StageInfo&) {}
void LifeCycle::load_state_dict(const Json&) {}

void LifeCycle::attach(Runner* runner, Dataset* dataset, const Json* args) {
  runner_ = runner;
  dataset_ = dataset;
  args_ = args;
}

Registry<LifeCycle>& life_cycle_registry() {
  static Registry<LifeCycle> registry;
  return registry;
}

}  // namespace dlnest
