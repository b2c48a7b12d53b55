// How the model is built, trained and validated.
#include <dlnest/runner.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "MNISTCNN.h"

using dlnest::Json;

/// Trains MNISTCNN with Adam and cross-entropy; the learning rate is multiplied by "lr_gamma"
/// every "lr_step_epochs" epochs. Every step logs the loss and the learning rate (metrics.jsonl,
/// metrics.csv and TensorBoard get them); validation measures the accuracy on the test set and
/// appends it to log["acc"].
class Runner : public dlnest::Runner {
 public:
  /// Builds the model from the "model_*" keys and the dataset's class count.
  void init(const Json& args, const Json& dataset_info) override {
    const auto channels = args.at("model_channels").get<std::vector<int64_t>>();
    // Registered modules are moved to device() and saved in every checkpoint.
    model_ = register_module(
        "model", MNISTCNN(channels.at(0), channels.at(1), args.value("model_kernel", 3),
                          args.value("model_hidden", 128), args.value("model_dropout", 0.25),
                          dataset_info.value("classes", 10)));
  }

  /// "lr": the current epoch's learning rate; "acc": the test accuracy after each validated
  /// epoch. The epoch records of metrics.jsonl hold them, next to the logged step scalars.
  Json init_log() override { return {{"lr", 0.0}, {"acc", Json::array()}}; }

  /// Registered optimizers and LR schedulers are checkpointed too, so a continued run resumes with
  /// the same Adam state and learning rate.
  void init_optimizer() override {
    const Json& a = args();
    optimizer_ = register_optimizer(
        "adam", std::make_shared<torch::optim::Adam>(
                    model_->parameters(), torch::optim::AdamOptions(a.value("lr", 1e-3))));
    scheduler_ = register_lr_scheduler(
        "step_lr", std::make_shared<torch::optim::StepLR>(
                       *optimizer_, a.value("lr_step_epochs", 2u), a.value("lr_gamma", 0.5)));
  }

  /// One training step on a batch {images, labels}, already on device().
  void run_one_step(dlnest::Batch& batch, Json& history, int iter, int epoch) override {
    // The schedule counts epochs. libtorch's StepLR decays on its step_size-th, 2*step_size-th...
    // call, so stepping it as every epoch begins decays at epochs step_size, 2*step_size...
    if (iter == 0) {
      scheduler_->step();
      history["lr"] = optimizer_->param_groups().front().options().get_lr();
    }
    model_->train();
    torch::Tensor loss = torch::nn::functional::cross_entropy(model_->forward(batch[0]), batch[1]);
    // Explicit: libtorch 1.x zeroes gradients by default, 2.x drops them; dropping is cheaper.
    model_->zero_grad(/*set_to_none=*/true);
    // backward() = loss.backward(), then under DDP the gradients averaged over all ranks.
    backward(loss);
    optimizer_->step();

    // Step scalars: the loss as a tensor (read by the runtime at the step's end, averaged over
    // the ranks under DDP; the epoch record gets its mean) and the learning rate (the epoch
    // record gets its last value). The progress line shows "loss".
    log("loss", loss, dlnest::LogOptions().reduce_over_ranks());
    log("lr", history["lr"].get<double>(),
        dlnest::LogOptions().aggregation(dlnest::Aggregation::kLast));
    epoch_ = epoch;
  }

  /// Validation (without gradients): validation_init, validate_a_batch for every batch of the
  /// validation loader, then validation_analyze.
  void validation_init() override {
    model_->eval();  // no dropout; the runtime already disabled gradients
    correct_ = 0;
    total_ = 0;
  }

  void validate_a_batch(dlnest::Batch& batch, int /*iter*/) override {
    torch::Tensor predicted = model_->forward(batch[0]).argmax(1);
    correct_ += predicted.eq(batch[1]).sum().item<int64_t>();
    total_ += batch[1].size(0);
  }

  void validation_analyze(Json& log) override {
    // Sums over all ranks, so the accuracy is that of the whole test set under DDP too.
    torch::Tensor counts = reduce_sum(torch::tensor({correct_, total_}).to(device()));
    const double acc = counts[0].item<double>() / counts[1].item<double>();
    log["acc"].push_back(acc);
    std::printf("Epoch %d | test accuracy %.2f%%\n", epoch_, 100 * acc);
    std::fflush(stdout);
  }

 private:
  MNISTCNN model_{nullptr};
  std::shared_ptr<torch::optim::Adam> optimizer_;
  std::shared_ptr<dlnest::LrScheduler> scheduler_;
  int epoch_ = 0;        ///< the epoch being trained, for the accuracy line
  int64_t correct_ = 0;  ///< correct predictions of the current validation
  int64_t total_ = 0;    ///< samples of the current validation
};

DLNEST_REGISTER_RUNNER(Runner);
