// The DLNest server: the HTTP API of docs/api.md over the task manager (queue, scheduler, device
// probe, state database, supervision of task processes).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dlnest/status.h"
#include "server/http_transport.h"

namespace dlnest {

/// How `dlnest server` (and the in-process server of `dlnest local`) is set up.
struct ServerOptions {
  std::string host = "127.0.0.1";  ///< address to bind; a non-loopback one needs TLS or insecure
  int port = 9999;                 ///< 0: any free port (see Server::port())
  std::string state_dir;           ///< empty: default_state_dir()
  std::string simulated_gpus;      ///< --simulated-gpus spec ("sim:MB,..."); empty: NVML/env
  double delay_s = 5;              ///< the scheduler also runs this often (changeDelay)
  double memory_sample_s = 5;      ///< how often running tasks' GPU memory is sampled
  int max_task_per_device = 10000;
  /// `dlnest local`: tasks are ended when the server stops, and running tasks of a previous
  /// server are not adopted.
  bool end_tasks_on_exit = false;
  std::string worker_path;  ///< dlnest-worker; empty: next to the running binary
  bool quiet = false;       ///< do not echo the server's messages to stderr
  /// Serve over TLS with this certificate and key (--tls-cert, --tls-key); a non-loopback
  /// address needs it, or `insecure`.
  TlsFiles tls;
  /// Bind to a non-loopback address although the server has no TLS: the token and every reply
  /// cross the network in clear text (--insecure). Without it such a bind is refused.
  bool insecure = false;
  /// Host names the server answers to besides loopback and its bound address (--allowed-host);
  /// docs/security.md.
  std::vector<std::string> allowed_hosts;
};

/// A running server. start() binds the port and starts serving from background threads.
class Server {
 public:
  /// Opens the state, recovers tasks of a previous run, binds and starts serving. An address in
  /// use, an unreadable state dir or a bad simulated-GPU spec are errors naming the thing at fault.
  static Result<std::unique_ptr<Server>> start(const ServerOptions& options);
  virtual ~Server() = default;
  /// The port it listens on (the chosen one when ServerOptions::port was 0).
  virtual int port() const = 0;
  /// "http://host:port", or "https://host:port" with TLS.
  virtual std::string url() const = 0;
  /// The token (`Authorization: Bearer <token>`, also in `<state dir>/token`): needed by every
  /// client beyond loopback, and on loopback by clients of other users than the server's.
  virtual std::string token() const = 0;
  /// Stops serving; with end_tasks_on_exit, ends every running task first. Idempotent.
  virtual void stop() = 0;
  /// Blocks until stop() was called (from another thread or a signal handler's thread).
  virtual void wait() = 0;
};

}  // namespace dlnest
