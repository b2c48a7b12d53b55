// A save package loaded for analysis: its plugin's runner and dataset built from its args, a
// checkpoint loaded onto a device, and analysis scripts' entry points called against it
// (docs/analyzer.md). Torch-free interface, like trainer.h.
#pragma once

#include <memory>
#include <string>

#include "dlnest/status.h"

namespace dlnest {

/// Checkpoint id that loads no checkpoint (the original's -2).
inline constexpr int kNoCheckpoint = -2;

struct AnalyzeRequest {
  std::string package_dir;
  int checkpoint_id = -1;      ///< -1: the latest, kNoCheckpoint: none
  std::string device = "cpu";  ///< "cpu" or "cuda:N"
};

/// The signature of an analysis script's `dlnest_experiment_v1` (see dlnest/experiment.h).
using ExperimentEntry = void (*)(struct Experiment&);

class AnalysisSession {
 public:
  /// Builds the runner and dataset the package's args name (their classes must be registered,
  /// e.g. by its loaded plugin), initialises them and loads the checkpoint. Errors name the stage
  /// and the package.
  static Result<std::unique_ptr<AnalysisSession>> open(const AnalyzeRequest& request);
  virtual ~AnalysisSession() = default;

  /// Calls a script's entry point with the loaded args, runner, dataset and log. An exception it
  /// throws comes back as the error (the session stays usable).
  virtual Status run(ExperimentEntry entry, const std::string& script_name) = 0;

  /// One line describing what is loaded ("... checkpoint 3 of <package> on cpu").
  virtual std::string describe() const = 0;
};

}  // namespace dlnest
