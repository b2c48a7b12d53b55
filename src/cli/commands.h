// The `dlnest` subcommands. Each registers itself on the CLI11 app and returns the process exit
// code through the shared `exit_code`.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "client/api_client.h"
#include "dlnest/status.h"
#include "task/worker_invocation.h"

namespace dlnest::cli {

/// Prints "dlnest: error: <message>" to stderr and returns the exit code 1.
int fail(const Status& status);

/// The exit code of a command line `dlnest` cannot use (an unknown option, a missing value,
/// flags that do not go together), as for Python's argparse.
inline constexpr int kUsageExitCode = 2;

/// Prints "dlnest: error: <message>" to stderr and returns kUsageExitCode.
int usage_error(const std::string& message);

/// Checks a -m value: a positive number of MB, -1 (the default) or auto.
CLI::Validator memory_validator();

/// `dlnest config -c CFG [-f FREQ]`: print the merged arguments.
void add_config_command(CLI::App& app, int& exit_code);
/// `dlnest package create|show ...`: the save package on its own (`show` asks the server that
/// `client` names only for a task id).
void add_package_command(CLI::App& app, int& exit_code, const ClientOptions& client);
/// `dlnest new`, `dlnest run`, `dlnest continue` (run and continue submit to the server that
/// `client` names, or train in this terminal with --foreground).
void add_train_commands(CLI::App& app, int& exit_code, const ClientOptions& client);
/// `dlnest analyze`, `exp`, `del`, `tasks`, `devices`, `output` and `shell`: clients of a server.
void add_client_commands(CLI::App& app, int& exit_code, const ClientOptions& client);

/// `dlnest export -r PKG [-c ID] [-o FILE] [-m MODULE]`: a checkpoint's weights as safetensors.
void add_export_command(CLI::App& app, int& exit_code);

/// `dlnest build-package` (hidden): builds a save package's plugin, the build stage of a task.
void add_build_command(CLI::App& app, int& exit_code);

/// `dlnest server` and `dlnest local`.
void add_server_commands(CLI::App& app, int& exit_code, const ClientOptions& client);

/// Replaces this process with `dlnest-worker` (found beside this binary) told `invocation`;
/// returns only on failure, with the exit code.
int exec_worker(const WorkerInvocation& invocation);

/// Adds the options every client subcommand shares (--server, --token, --state-dir) to `app`.
void add_client_options(CLI::App& app, ClientOptions& client);

/// The save package `record` names: a folder (made absolute), or the id of a task ("T_...",
/// "A_...") whose package the server named by `client` gives.
Result<std::string> package_dir_of(const ClientOptions& client, const std::string& record);

/// POSTs a task to `path` of the server `client` names and prints the new task's id and package.
/// Returns the exit code.
int submit_task(const ClientOptions& client, const std::string& path, const ApiParams& params);

}  // namespace dlnest::cli
