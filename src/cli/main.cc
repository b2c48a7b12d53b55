// dlnest: the command-line client.
#include <iostream>

#include "cli/commands.h"

namespace dlnest::cli {

int fail(const Status& status) {
  std::cerr << "dlnest: error: " << status.message() << "\n";
  return 1;
}

int usage_error(const std::string& message) {
  std::cerr << "dlnest: error: " << message << "\n";
  return kUsageExitCode;
}

namespace {

/// The subcommand the user was typing when parsing failed ("dlnest" when none).
std::string command_path(const CLI::App& app) {
  std::string path = "dlnest";
  for (const CLI::App* sub = &app; sub != nullptr;) {
    const auto used = sub->get_subcommands();
    sub = used.empty() ? nullptr : used.front();
    if (sub != nullptr) path += " " + sub->get_name();
  }
  return path;
}

}  // namespace

}  // namespace dlnest::cli

int main(int argc, char** argv) {
  CLI::App app{
      "DLNest: queue deep-learning training runs, keep a reproducible save package for each,\n"
      "continue any run from any checkpoint, and analyze finished runs."};
  app.set_version_flag("--version", std::string("dlnest ") + DLNEST_VERSION);
  app.require_subcommand(1);
  int exit_code = 0;
  dlnest::ClientOptions client;
  dlnest::cli::add_client_options(app, client);
  dlnest::cli::add_train_commands(app, exit_code, client);
  dlnest::cli::add_client_commands(app, exit_code, client);
  dlnest::cli::add_server_commands(app, exit_code, client);
  dlnest::cli::add_config_command(app, exit_code);
  dlnest::cli::add_package_command(app, exit_code, client);
  dlnest::cli::add_export_command(app, exit_code);
  dlnest::cli::add_build_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return dlnest::cli::usage_error(std::string(e.what()) + " (see '" +
                                    dlnest::cli::command_path(app) + " --help')");
  }
  return exit_code;
}
