// When to validate, print, save and stop. Torch-free, so it compiles in a moment.
#include <dlnest/life_cycle.h>

#include <cstdio>

using dlnest::Json;

/// Validates and saves after every epoch, keeps the checkpoint with the best test accuracy in
/// the consistent track (max_ckpt_in_consistent_track in root_config.json) and stops after
/// args["epochs"] epochs.
class LifeCycle : public dlnest::LifeCycle {
 public:
  bool need_validation(int /*epoch*/, Json& /*log*/, const Json& /*args*/) override { return true; }

  /// Called when an epoch's training ends, before its validation (which prints the accuracy).
  /// The epoch's mean loss is in the epoch record of metrics.jsonl.
  void command_line_output(int epoch, Json& log, const Json& /*args*/) override {
    std::printf("Epoch %d | lr %g\n", epoch, log.value("lr", 0.0));
    std::fflush(stdout);
  }

  bool need_save_model(int /*epoch*/, Json& /*log*/, const Json& /*args*/) override { return true; }

  /// Holds the checkpoint when its accuracy is the best so far.
  bool hold_this_checkpoint(int /*epoch*/, Json& log, const Json& /*args*/) override {
    const Json& acc = log["acc"];
    if (acc.empty() || acc.back().get<double>() <= best_acc_) return false;
    best_acc_ = acc.back().get<double>();
    return true;
  }

  /// Epochs count from 0: epoch `epochs - 1` is the last.
  bool need_continue_train(int epoch, Json& /*log*/, const Json& args) override {
    return epoch + 1 < args.value("epochs", 1);
  }

  /// The best accuracy is saved with every checkpoint, so a continued run still holds only
  /// checkpoints that beat it.
  Json state_dict() const override { return {{"best_acc", best_acc_}}; }
  void load_state_dict(const Json& state) override { best_acc_ = state.value("best_acc", 0.0); }

 private:
  double best_acc_ = 0.0;
};

DLNEST_REGISTER_LIFE_CYCLE(LifeCycle);
