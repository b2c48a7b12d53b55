// Analysis script: prints every registered module's structure and parameter count. Write your
// own scripts like this one: a function of dlnest::Experiment (the loaded run's args, runner,
// dataset, loaders and log) made the entry point with DLNEST_EXPERIMENT.
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
