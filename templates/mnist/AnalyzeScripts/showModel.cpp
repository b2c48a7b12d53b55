// Analysis script: prints every registered module's structure and parameter count.
#include <dlnest/experiment.h>

#include <iostream>

namespace {

void show_model(dlnest::Experiment& experiment) {
  for (const auto& [name, module] : experiment.runner.modules()) {
    int64_t parameters = 0;
    for (const torch::Tensor& p : module->parameters()) parameters += p.numel();
    std::cout << name << ": " << *module << "\n"
              << name << ": " << parameters << " parameters" << std::endl;
  }
}

}  // namespace

DLNEST_EXPERIMENT(show_model)
