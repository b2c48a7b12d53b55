// `dlnest-worker analyze`: loads a save package for analysis and runs analysis scripts against it,
// either one given on the command line (then exits) or each one named on the command socket.
#pragma once

#include <string>

namespace dlnest {

struct AnalyzeOptions {
  std::string package_dir;
  std::string scripts_dir;     ///< where runExp NAME finds NAME.cpp
  std::string script;          ///< one-shot: this .cpp file, then exit
  std::string socket;          ///< serve: commands arrive on this Unix socket
  std::string toolchain_dir;   ///< script_flags.txt and the precompiled header
  int checkpoint_id = -1;      ///< -1: latest, -2: none
  std::string device = "cpu";
};

/// Runs the analyzer; returns the process exit code (0, or 1 after an error it printed).
int run_analyzer(const AnalyzeOptions& options);

}  // namespace dlnest
