// When to validate, print, save and stop; hooks before/after every stage (before(), after())
// go here too. Torch-free, so it compiles in a moment.
#include <dlnest/life_cycle.h>

#include <cstdio>

using dlnest::Json;

/// Validates and saves after every epoch, keeps the checkpoint with the lowest validation loss
/// in the consistent track and stops after args["epochs"] epochs.
class LifeCycle : public dlnest::LifeCycle {
 public:
  bool need_validation(int /*epoch*/, Json& /*log*/, const Json& /*args*/) override { return true; }

  /// Called when an epoch's training ends, before its validation (the epoch's mean loss is in
  /// the epoch record of metrics.jsonl).
  void command_line_output(int epoch, Json& /*log*/, const Json& /*args*/) override {
    std::printf("Epoch %d done\n", epoch);
    std::fflush(stdout);
  }

  bool need_save_model(int /*epoch*/, Json& /*log*/, const Json& /*args*/) override { return true; }

  /// Holds the checkpoint when its validation loss is the lowest so far.
  bool hold_this_checkpoint(int /*epoch*/, Json& log, const Json& /*args*/) override {
    const Json& val_loss = log["val_loss"];
    if (val_loss.empty()) return false;
    const double value = val_loss.back().get<double>();
    if (best_ >= 0 && value >= best_) return false;
    best_ = value;
    return true;
  }

  /// Epochs count from 0: epoch `epochs - 1` is the last.
  bool need_continue_train(int epoch, Json& /*log*/, const Json& args) override {
    return epoch + 1 < args.value("epochs", 1);
  }

  /// Saved with every checkpoint, so a continued run remembers the best loss.
  Json state_dict() const override { return {{"best_val_loss", best_}}; }
  void load_state_dict(const Json& state) override { best_ = state.value("best_val_loss", -1.0); }

 private:
  double best_ = -1.0;  ///< the lowest validation loss so far; -1 before the first validation
};

DLNEST_REGISTER_LIFE_CYCLE(LifeCycle);
