// The Host and Origin checks of docs/security.md.
#include "server/request_guard.h"

#include <algorithm>
#include <cctype>

namespace dlnest {
namespace {

constexpr size_t kMaxPortDigits = 5;
constexpr int kDefaultHttpPort = 80;
constexpr int kDefaultHttpsPort = 443;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// "[::1]" -> "::1"; anything else unchanged.
std::string unbracket(const std::string& host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

/// A Host header value split into its lower-case name (IPv6 without brackets) and port text.
struct HostPort {
  std::string name;
  std::optional<std::string> port;
};

std::optional<HostPort> split_host(const std::string& value) {
  HostPort hp;
  std::string rest;
  if (!value.empty() && value.front() == '[') {
    const size_t close = value.find(']');
    if (close == std::string::npos) return std::nullopt;
    hp.name = value.substr(1, close - 1);
    rest = value.substr(close + 1);
  } else {
    const size_t colon = value.find(':');
    if (colon != std::string::npos && value.find(':', colon + 1) != std::string::npos) {
      return std::nullopt;  // an IPv6 literal must be in brackets
    }
    hp.name = value.substr(0, colon);
    if (colon != std::string::npos) rest = value.substr(colon);
  }
  if (!rest.empty()) {
    if (rest.front() != ':') return std::nullopt;
    hp.port = rest.substr(1);
  }
  if (hp.name.empty()) return std::nullopt;
  hp.name = lower(hp.name);
  return hp;
}

bool port_is(const std::string& text, int port) {
  if (text.empty() || text.size() > kMaxPortDigits) return false;
  if (!std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return false;
  }
  return std::stoi(text) == port;
}

bool name_is_server(const ServerIdentity& server, const std::string& name) {
  if (name == "localhost" || name == "127.0.0.1" || name == "::1") return true;
  if (name == lower(unbracket(server.bound_host))) return true;
  return std::any_of(server.allowed_hosts.begin(), server.allowed_hosts.end(),
                     [&](const std::string& h) { return lower(unbracket(h)) == name; });
}

std::string port_text(const ServerIdentity& server) {
  return std::to_string(server.port);
}

Status refused_host(const ServerIdentity& server, const std::string& host) {
  return Status::failed_precondition(
      "refused Host '" + host + "': this server answers only to localhost, 127.0.0.1, [::1]" +
      (is_loopback_address(server.bound_host) ? "" : ", " + server.bound_host) +
      " and the --allowed-host names, on port " + port_text(server) +
      " (docs/security.md); to reach it under this name, start it with --allowed-host NAME");
}

Status refused_origin(const std::string& origin) {
  return Status::failed_precondition(
      "refused a request from Origin '" + origin +
      "': web pages of other sites may not drive the server (docs/security.md); clients such as "
      "dlnest, curl and python requests send no Origin header");
}

}  // namespace

bool is_loopback_address(const std::string& host) {
  const std::string h = lower(unbracket(host));
  return h == "localhost" || h == "::1" || h.rfind("127.", 0) == 0;
}

bool host_names_server(const ServerIdentity& server, const std::string& host) {
  std::optional<HostPort> hp = split_host(host);
  if (!hp) return false;
  if (hp->port && !port_is(*hp->port, server.port)) return false;
  return name_is_server(server, hp->name);
}

bool origin_is_server(const ServerIdentity& server, const std::string& origin) {
  const std::string scheme = server.tls ? "https://" : "http://";
  const std::string o = lower(origin);
  if (o.rfind(scheme, 0) != 0) return false;  // "null", the other scheme, other schemes
  std::string host = o.substr(scheme.size());
  if (host.find('/') != std::string::npos) return false;
  std::optional<HostPort> hp = split_host(host);
  if (!hp) return false;
  if (!hp->port) hp->port = std::to_string(server.tls ? kDefaultHttpsPort : kDefaultHttpPort);
  return port_is(*hp->port, server.port) && name_is_server(server, hp->name);
}

Status check_request(const ServerIdentity& server, const GuardHeaders& headers) {
  if (!headers.host) {
    if (!is_loopback_address(server.bound_host)) {
      return Status::failed_precondition(
          "refused a request without a Host header: the server is bound to " + server.bound_host +
          "; send 'Host: <name>:" + port_text(server) + "' (HTTP/1.1)");
    }
  } else if (!host_names_server(server, *headers.host)) {
    return refused_host(server, *headers.host);
  }
  if (headers.origin && !origin_is_server(server, *headers.origin)) {
    return refused_origin(*headers.origin);
  }
  if (headers.sec_fetch_site) {
    const std::string site = lower(*headers.sec_fetch_site);
    if (site == "cross-site" || site == "same-site") {
      return Status::failed_precondition(
          "refused a request with 'Sec-Fetch-Site: " + *headers.sec_fetch_site +
          "': web pages of other sites may not drive the server (docs/security.md)");
    }
  }
  return Status::ok();
}

}  // namespace dlnest
