// How the model is built, trained and validated: put your own model and training step here.
#include <dlnest/runner.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "MLP.h"

using dlnest::Json;

/// Fits an MLP to the dataset's (x, y) pairs with Adam and mean squared error; every step logs
/// its loss, validation appends the mean squared error on the validation set to log["val_loss"].
class Runner : public dlnest::Runner {
 public:
  /// Builds the model from the args and the sizes the dataset reports. Registered modules are
  /// moved to device() and saved in every checkpoint.
  void init(const Json& args, const Json& dataset_info) override {
    model_ = register_module("model", MLP(dataset_info.at("input_size").get<int64_t>(),
                                          args.at("model_hidden").get<std::vector<int64_t>>(),
                                          dataset_info.at("output_size").get<int64_t>()));
  }

  /// The log of a fresh run; a continued run gets the one saved in its checkpoint.
  Json init_log() override { return {{"val_loss", Json::array()}}; }

  /// Registered optimizers (and LR schedulers, see register_lr_scheduler) are checkpointed too.
  void init_optimizer() override {
    optimizer_ = register_optimizer(
        "adam", std::make_shared<torch::optim::Adam>(
                    model_->parameters(), torch::optim::AdamOptions(args().value("lr", 1e-3))));
  }

  /// One step on a batch the dataset made ({x, y}), already on device().
  void run_one_step(dlnest::Batch& batch, Json& /*log*/, int /*iter*/, int /*epoch*/) override {
    model_->train();
    torch::Tensor loss = torch::mse_loss(model_->forward(batch[0]), batch[1]);
    // Explicit: libtorch 1.x zeroes gradients by default, 2.x drops them; dropping is cheaper.
    model_->zero_grad(/*set_to_none=*/true);
    // backward() = loss.backward(), then under DDP the gradients averaged over all ranks.
    backward(loss);
    optimizer_->step();

    // A step scalar: metrics.jsonl, metrics.csv and TensorBoard get it every step, the epoch
    // record its mean over the epoch (averaged over the ranks under DDP); the progress line
    // shows "loss". Names logged here must not be hidden by a parameter called `log`.
    log("loss", loss, dlnest::LogOptions().reduce_over_ranks());
  }

  /// Validation runs without gradients: init, every batch of the validation loader, analyze.
  void validation_init() override {
    model_->eval();
    squared_error_ = torch::zeros({}, torch::TensorOptions().device(device()));
    count_ = torch::zeros({}, torch::TensorOptions().device(device()));
  }

  void validate_a_batch(dlnest::Batch& batch, int /*iter*/) override {
    squared_error_ += (model_->forward(batch[0]) - batch[1]).pow(2).sum();
    count_ += batch[1].numel();
  }

  void validation_analyze(Json& log) override {
    // Sums over all ranks, so the result covers the whole validation set under DDP too.
    const double mse = (reduce_sum(squared_error_) / reduce_sum(count_)).item<double>();
    log["val_loss"].push_back(mse);
    std::printf("  validation mse %.5f\n", mse);
    std::fflush(stdout);
  }

 private:
  MLP model_{nullptr};
  std::shared_ptr<torch::optim::Adam> optimizer_;
  torch::Tensor squared_error_;
  torch::Tensor count_;
};

DLNEST_REGISTER_RUNNER(Runner);
