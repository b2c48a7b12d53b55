// dlnest: the command-line client.
#include <iostream>

#include "cli/commands.h"

namespace dlnest::cli {

int fail(const Status& status) {
  std::cerr << "dlnest: error: " << status.message() << "\n";
  return 1;
}

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
  dlnest::cli::add_package_command(app, exit_code);
  dlnest::cli::add_export_command(app, exit_code);
  dlnest::cli::add_build_command(app, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
