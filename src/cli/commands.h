// The `dlnest` subcommands. Each registers itself on the CLI11 app and returns the process exit
// code through the shared `exit_code`.
#pragma once

#include <CLI/CLI.hpp>

#include "dlnest/status.h"

namespace dlnest::cli {

/// Prints "dlnest: error: <message>" to stderr and returns the exit code 1.
int fail(const Status& status);

/// `dlnest config -c CFG [-f FREQ]`: print the merged arguments.
void add_config_command(CLI::App& app, int& exit_code);
/// `dlnest package create|show ...`: the save package on its own.
void add_package_command(CLI::App& app, int& exit_code);
/// `dlnest new`, `dlnest run`, `dlnest continue`.
void add_train_commands(CLI::App& app, int& exit_code);

}  // namespace dlnest::cli
