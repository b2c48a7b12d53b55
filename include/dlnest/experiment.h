// Analysis scripts: a .cpp file in a project's AnalyzeScripts/ folder that the analyzer compiles
// and runs against a loaded save package (its args, runner, dataset and log).
#pragma once

#include "dlnest/dataset.h"
#include "dlnest/runner.h"

namespace dlnest {

/// What an analysis script sees: the loaded run.
struct Experiment {
  const Json& args;
  Runner& runner;
  Dataset& dataset;
  DatasetParts& data;  ///< the loaders Dataset::init returned, on the runner's device
  Json& log;
};

}  // namespace dlnest

/// Makes `function` (void(dlnest::Experiment&)) the entry point of an analysis script.
#define DLNEST_EXPERIMENT(function)                                                     \
  extern "C" __attribute__((visibility("default"))) void dlnest_experiment_v1(          \
      ::dlnest::Experiment& experiment) {                                               \
    function(experiment);                                                               \
  }
