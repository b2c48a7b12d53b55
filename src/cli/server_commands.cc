// `dlnest server` and `dlnest local`: the server, standalone or inside a shell.
#include <signal.h>

#include <ctime>
#include <iostream>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "client/api_client.h"
#include "client/shell.h"
#include "env/path.h"
#include "server/message_log.h"
#include "server/server.h"
#include "state/state_store.h"

namespace dlnest::cli {
namespace {

void add_server_options(CLI::App* cmd, ServerOptions& options) {
  cmd->add_option("--host", options.host,
                  "address to listen on (non-loopback needs --tls-cert/--tls-key or --insecure)")
      ->capture_default_str();
  cmd->add_option("--port", options.port, "port (0: any free port)")->capture_default_str();
  cmd->add_option("--simulated-gpus", options.simulated_gpus,
                  "simulated GPUs for trying the scheduler, e.g. sim:24000,24000");
  cmd->add_option("--delay", options.delay_s, "seconds between scheduling rounds")
      ->capture_default_str();
  cmd->add_option("--max-task-per-device", options.max_task_per_device, "most tasks on one GPU")
      ->capture_default_str();
  cmd->add_option("--tls-cert", options.tls.cert,
                  "serve HTTPS with this PEM certificate (chain) file; needs --tls-key");
  cmd->add_option("--tls-key", options.tls.key,
                  "the PEM private key of --tls-cert (readable by its owner only)");
  cmd->add_flag("--insecure", options.insecure,
                "allow a non-loopback --host without TLS (token and replies in clear text)");
  cmd->add_option("--allowed-host", options.allowed_hosts,
                  "a host name clients use to reach the server, besides loopback and the bound "
                  "address (repeatable; docs/security.md)")
      ->allow_extra_args(false);
}

/// Blocks SIGINT and SIGTERM in every thread started from now on; the caller waits for them
/// with sigwait. Children get the default mask back when they start.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

void add_server(CLI::App& app, int& exit_code, const ClientOptions& client) {
  auto options = std::make_shared<ServerOptions>();
  auto* cmd = app.add_subcommand(
      "server", "Run the DLNest server: task queue, scheduler and HTTP API (docs/api.md)");
  add_server_options(cmd, *options);
  cmd->callback([options, &exit_code, &client] {
    options->state_dir = client.state_dir;
    const sigset_t stop_signals = block_stop_signals();
    auto server = Server::start(*options);
    if (!server.is_ok()) {
      exit_code = fail(server.status());
      return;
    }
    std::cerr << local_time_stamp(std::time(nullptr))
              << " [dlnest] clients of other users, and every client beyond loopback, must send "
                 "the token in the state dir's 'token' file\n";
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::cerr << local_time_stamp(std::time(nullptr)) << " [dlnest] stopping the server (" << (sig == SIGINT ? "SIGINT" : "SIGTERM")
              << "); running tasks go on and the next server adopts them\n";
    (*server)->stop();
  });
}

void add_local(CLI::App& app, int& exit_code, const ClientOptions& client) {
  auto options = std::make_shared<ServerOptions>();
  auto* cmd = app.add_subcommand(
      "local", "A shell with its own in-process server; its tasks end when the shell exits");
  options->port = 0;
  options->quiet = true;
  add_server_options(cmd, *options);
  cmd->callback([options, &exit_code, &client] {
    options->end_tasks_on_exit = true;
    // Its own state, so that it never competes with a `dlnest server` for the same tasks.
    options->state_dir =
        client.state_dir.empty() ? path::join(default_state_dir(), "local") : client.state_dir;
    auto server = Server::start(*options);
    if (!server.is_ok()) {
      exit_code = fail(server.status());
      return;
    }
    ClientOptions local = client;
    local.server = "127.0.0.1:" + std::to_string((*server)->port());
    local.token = (*server)->token();
    local.state_dir = options->state_dir;
    ApiClient api(local);
    exit_code = run_shell(api, ShellOptions::for_client(local));
    (*server)->stop();
  });
}

}  // namespace

void add_server_commands(CLI::App& app, int& exit_code, const ClientOptions& client) {
  add_server(app, exit_code, client);
  add_local(app, exit_code, client);
}

}  // namespace dlnest::cli
