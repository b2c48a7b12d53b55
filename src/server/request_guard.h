// Which requests may reach the API at all: the Host and Origin checks that keep a web page in the
// user's browser from driving the server (cross-site form posts, DNS rebinding). Pure functions
// over the request's headers and the server's identity; docs/security.md has the model.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dlnest/status.h"

namespace dlnest {

/// What the server answers to: the address it is bound to, its port and the extra host names
/// given with `dlnest server --allowed-host NAME`.
struct ServerIdentity {
  std::string bound_host;                  ///< ServerOptions::host ("127.0.0.1", "0.0.0.0", "::1")
  int port = 0;                            ///< the port it listens on
  std::vector<std::string> allowed_hosts;  ///< --allowed-host names, any case
  bool tls = false;                        ///< served over TLS: its origin is https://
};

/// The headers the guard reads; nullopt when the request has none.
struct GuardHeaders {
  std::optional<std::string> host;
  std::optional<std::string> origin;
  std::optional<std::string> sec_fetch_site;
};

/// True for addresses and names that only reach this machine: localhost, 127.x.x.x, ::1.
bool is_loopback_address(const std::string& host);

/// Whether a Host header value ("name", "name:port", "[v6]", "[v6]:port") names the server:
/// localhost, 127.0.0.1 or [::1], the bound address, or an allowed host (names compare without
/// case); a port, when given, must be the server's.
bool host_names_server(const ServerIdentity& server, const std::string& host);

/// Whether an Origin header value is the server's own origin: `http://<a host named by
/// host_names_server>:<its port>` (no port means 80), or `https://...` (no port: 443) when the
/// server has TLS. "null" never is.
bool origin_is_server(const ServerIdentity& server, const std::string& origin);

/// OK, or a PermissionDenied-style error (failed_precondition) whose message says which header
/// was refused and how to allow it. Refused: a Host that does not name the server, a missing Host
/// unless the server is bound to loopback, an Origin that is not the server's own, and
/// `Sec-Fetch-Site: cross-site` or `same-site`.
Status check_request(const ServerIdentity& server, const GuardHeaders& headers);

}  // namespace dlnest
