// A small model on synthetic data, with dropout (args "dropout"), momentum and an LR schedule, so
// that a resumed run only matches an uninterrupted one when every piece of state is restored.
// Without dropout the run is deterministic: a DDP run over R ranks with batch B computes what one
// process computes with batch R * B. Args "step_ms" and "save_ms" slow down each training and
// validation step and each save, so that tests can interrupt a run in any of them. Every step
// logs scalars with Runner::log (and the step number under the name in args "extra_scalar").
#include <dlnest/dataset.h>
#include <dlnest/runner.h>

#include <chrono>
#include <thread>

namespace {

torch::Tensor features(int64_t n, int64_t offset) {
  auto i = torch::arange(offset, offset + n, torch::kDouble).unsqueeze(1);
  auto j = torch::arange(1, 9, torch::kDouble).unsqueeze(0);
  return torch::sin(i * 0.37 * j + j).to(torch::kFloat);
}

torch::Tensor labels(const torch::Tensor& x) {
  return (x.sum(1) > 0).to(torch::kLong);
}

void pause(const dlnest::Json& args, const char* key) {
  const int ms = args.value(key, 0);
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace

class ToyDataset : public dlnest::Dataset {
 public:
  dlnest::DatasetParts init(const dlnest::Json& args) override {
    const int64_t n = args["samples"];
    const int64_t m = args["validation_samples"];
    const int64_t batch = args["batch_size"];
    auto train_x = features(n, 0);
    auto val_x = features(m, n);
    dlnest::DatasetParts parts;
    parts.info = {{"inputs", 8}, {"classes", 2}};
    parts.train = std::make_shared<dlnest::DataLoader>(
        std::make_shared<dlnest::TensorSource>(std::vector<torch::Tensor>{train_x, labels(train_x)}),
        dlnest::DataLoaderOptions(batch).shuffle(true).seed(args["seed"]).workers(2));
    parts.validation = std::make_shared<dlnest::DataLoader>(
        std::make_shared<dlnest::TensorSource>(std::vector<torch::Tensor>{val_x, labels(val_x)}),
        dlnest::DataLoaderOptions(batch).workers(0));
    return parts;
  }
};
DLNEST_REGISTER_DATASET(ToyDataset);

class ToyRunner : public dlnest::Runner {
 public:
  void init(const dlnest::Json& args, const dlnest::Json& info) override {
    args_ = args;
    net_ = register_module(
        "net",
        torch::nn::Sequential(torch::nn::Linear(info["inputs"].get<int64_t>(), 16),
                              torch::nn::ReLU(), torch::nn::Dropout(args.value("dropout", 0.3)),
                              torch::nn::Linear(16, info["classes"].get<int64_t>())));
  }
  void init_optimizer() override {
    optimizer_ = register_optimizer(
        "sgd", std::make_shared<torch::optim::SGD>(net_->parameters(),
                                                   torch::optim::SGDOptions(0.1).momentum(0.9)));
    scheduler_ = register_lr_scheduler(
        "step", std::make_shared<torch::optim::StepLR>(*optimizer_, 5, 0.5));
  }
  dlnest::Json init_log() override { return {{"loss", dlnest::Json::array()}, {"acc", dlnest::Json::array()}}; }
  void run_one_step(dlnest::Batch& batch, dlnest::Json& history, int iter, int) override {
    net_->train();
    net_->zero_grad(/*set_to_none=*/true);
    auto loss = torch::nn::functional::cross_entropy(net_->forward(batch[0]), batch[1]);
    backward(loss);
    optimizer_->step();
    scheduler_->step();
    history["loss"].push_back(loss.item<double>());
    // The step's scalars: the loss averaged over the ranks (a tensor, read by the runtime), its
    // extremes over the epoch, and the learning rate at the epoch's end.
    log("loss", loss, dlnest::LogOptions().reduce_over_ranks());
    log("loss_min", history["loss"].back().get<double>(),
        dlnest::LogOptions().aggregation(dlnest::Aggregation::kMin));
    log("loss_max", history["loss"].back().get<double>(),
        dlnest::LogOptions().aggregation(dlnest::Aggregation::kMax));
    log("lr", optimizer_->param_groups().front().options().get_lr(),
        dlnest::LogOptions().aggregation(dlnest::Aggregation::kLast));
    if (args_.contains("extra_scalar")) log(args_["extra_scalar"].get<std::string>(), iter);
    pause(args_, "step_ms");
  }
  void validation_init() override {
    net_->eval();
    correct_ = 0;
    total_ = 0;
  }
  void validate_a_batch(dlnest::Batch& batch, int) override {
    correct_ += net_->forward(batch[0]).argmax(1).eq(batch[1]).sum().item<int64_t>();
    total_ += batch[1].size(0);
    pause(args_, "step_ms");
  }
  void validation_analyze(dlnest::Json& history) override {
    const torch::Tensor counts = reduce_sum(torch::tensor({correct_, total_}));
    history["acc"].push_back(counts[0].item<double>() / counts[1].item<double>());
    log_epoch("val_acc", history["acc"].back().get<double>());
  }

  dlnest::Json state_dict() const override {
    pause(args_, "save_ms");  // inside the checkpoint's writing
    return dlnest::Json::object();
  }

 private:
  dlnest::Json args_;
  torch::nn::Sequential net_{nullptr};
  std::shared_ptr<torch::optim::SGD> optimizer_;
  std::shared_ptr<dlnest::LrScheduler> scheduler_;
  int64_t correct_ = 0;
  int64_t total_ = 0;
};
DLNEST_REGISTER_RUNNER(ToyRunner);
