// ApiClient: one DLNest server's HTTP API (docs/api.md) as calls that return the parsed reply or
// a Status a user can act on. Torch-free; used by the `dlnest` subcommands and the shell.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dlnest/config.h"  // Json
#include "dlnest/status.h"

namespace httplib {
class Client;
}  // namespace httplib

namespace dlnest {

/// Request parameters: (name, value) pairs, form-encoded. A name given several times is a list
/// (`new_devices_IDs=0&new_devices_IDs=1`).
using ApiParams = std::vector<std::pair<std::string, std::string>>;

inline constexpr const char* kDefaultServerHost = "127.0.0.1";
inline constexpr int kDefaultServerPort = 9999;

/// How a client finds and talks to its server: the global options `--server`, `--token` and
/// `--state-dir`; empty members fall back to the environment and defaults (resolve_endpoint()).
struct ClientOptions {
  std::string server;     ///< HOST:PORT
  std::string token;      ///< sent as `Authorization: Bearer <token>`
  std::string state_dir;  ///< where the token file is looked for
  /// PEM file of the certificate authority (or the self-signed certificate) that an https://
  /// server's certificate must chain to; empty: $DLNEST_TLS_CA, else the system's authorities.
  std::string tls_ca;
  int connect_timeout_s = 2;
  int read_timeout_s = 600;  ///< /run_train builds the project before it answers
};

/// A resolved server address and token.
struct ServerEndpoint {
  std::string host = kDefaultServerHost;
  int port = kDefaultServerPort;
  std::string token;  ///< empty: none sent
  bool tls = false;   ///< the address said https://

  /// "http://host:port", or "https://host:port" with TLS.
  std::string url() const;
};

/// Reads "HOST:PORT", "HOST" (port 9999) or either with an "http://" or "https://" prefix
/// (https: the server has TLS). Anything else
/// (another scheme, a bad port) is an InvalidArgument quoting the address.
Result<ServerEndpoint> parse_server_address(const std::string& address);

/// `flag` when not empty, else default_state_dir() ($XDG_STATE_HOME/dlnest or
/// ~/.local/state/dlnest).
std::string resolve_state_dir(const std::string& flag);

/// The address from `server`, else $DLNEST_SERVER, else 127.0.0.1:9999; the token from `token`,
/// else $DLNEST_TOKEN, else the file `<state dir>/token` when it is readable, else none.
Result<ServerEndpoint> resolve_endpoint(const ClientOptions& options);

enum class HttpMethod { kGet, kPost };

/// One request to the server.
struct ApiRequest {
  HttpMethod method = HttpMethod::kGet;
  std::string path;  ///< e.g. "/run_train"
  ApiParams params;

  /// "GET /get_task_info".
  std::string what() const;
  bool operator==(const ApiRequest& other) const {
    return method == other.method && path == other.path && params == other.params;
  }
};

/// An HTTP reply before interpretation.
struct HttpReply {
  int status = 0;
  std::string body;
};

/// The result of one exchange with the server at `url`: the JSON object when it says
/// `"status":"success"`, else an error whose message says what went wrong (the server's `error`
/// text, a refused token, an unknown endpoint, a reply that is not DLNest's JSON).
Result<Json> interpret_reply(const HttpReply& reply, const std::string& url,
                             const ApiRequest& request);

/// `reply[key]` when it is a string, else "" (replies are read leniently: a field of the wrong
/// type reads as missing instead of throwing).
std::string json_string(const Json& reply, const char* key);
/// `reply[key]` when it is an integer, else `fallback`.
int64_t json_int(const Json& reply, const char* key, int64_t fallback);

/// A client of one DLNest server. get()/post() are virtual so that tests can answer in its place.
class ApiClient {
 public:
  /// Resolves the endpoint (resolve_endpoint()); when that fails, every request returns the error.
  explicit ApiClient(const ClientOptions& options);
  virtual ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  /// GET `path` with `params` in the query string.
  virtual Result<Json> get(const std::string& path, const ApiParams& params = {});
  /// POST `path` with `params` as a form body.
  virtual Result<Json> post(const std::string& path, const ApiParams& params = {});
  /// get() or post(), as the request says.
  Result<Json> send(const ApiRequest& request);

  /// "http://host:port" of the server (or of the default one when the address was bad).
  std::string url() const { return endpoint_.url(); }

 private:
  Result<Json> exchange(const ApiRequest& request);

  ClientOptions options_;
  ServerEndpoint endpoint_;
  Status endpoint_status_;  ///< why the endpoint could not be resolved
  std::unique_ptr<httplib::Client> http_;
};

}  // namespace dlnest
