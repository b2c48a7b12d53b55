// Analysis script: prints the test accuracy of the loaded checkpoint.
#include <dlnest/experiment.h>

#include <iomanip>
#include <iostream>

#include "../Model/MNISTCNN.h"

namespace {

/// The MNISTCNN the runner registered as "model".
std::shared_ptr<MNISTCNNImpl> find_model(const dlnest::Runner& runner) {
  for (const auto& [name, module] : runner.modules()) {
    if (name == "model") return std::dynamic_pointer_cast<MNISTCNNImpl>(module);
  }
  return nullptr;
}

/// Runs the whole validation loader (the test set) through the model in eval mode.
void get_acc(dlnest::Experiment& experiment) {
  std::shared_ptr<MNISTCNNImpl> model = find_model(experiment.runner);
  TORCH_CHECK(model != nullptr, "the runner registers no MNISTCNN named \"model\"");
  TORCH_CHECK(experiment.data.validation != nullptr, "the dataset has no validation loader");

  torch::NoGradGuard no_grad;
  model->eval();
  dlnest::DataLoader& loader = *experiment.data.validation;
  loader.start_epoch(0);
  int64_t correct = 0;
  int64_t total = 0;
  while (std::optional<dlnest::Batch> batch = loader.next()) {
    correct += model->forward((*batch)[0]).argmax(1).eq((*batch)[1]).sum().item<int64_t>();
    total += (*batch)[1].size(0);
  }
  std::cout << "test accuracy: " << std::fixed << std::setprecision(2)
            << 100.0 * static_cast<double>(correct) / static_cast<double>(total) << "% (" << correct
            << "/" << total << ")" << std::endl;
}

}  // namespace

DLNEST_EXPERIMENT(get_acc)
