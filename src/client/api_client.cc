#include "client/api_client.h"

#include <httplib.h>

#include <cerrno>
#include <cstdlib>

#include "dlnest/env.h"
#include "env/state_dir.h"

namespace dlnest {

namespace {

constexpr size_t kSnippetChars = 200;

/// The first characters of a body, on one line, for error messages.
std::string snippet(const std::string& body) {
  std::string s = body.substr(0, kSnippetChars);
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (body.size() > kSnippetChars) s += "...";
  return s.empty() ? "(empty body)" : s;
}

std::string trim(const std::string& s) {
  const size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  const size_t end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

/// The server's `error` text when `body` is a DLNest error reply, else "".
std::string error_text(const std::string& body) {
  const Json json = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_object() && json.contains("error") && json["error"].is_string()) {
    return json["error"].get<std::string>();
  }
  return "";
}

Result<Json> interpret_success(const std::string& body, const std::string& url,
                               const ApiRequest& request) {
  const Json json = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return Status::corruption(
        "the reply of " + url + " to " + request.what() +
        " is not JSON (is a DLNest server listening there?): " + snippet(body));
  }
  if (!json.is_object() || !json.contains("status") || !json["status"].is_string()) {
    return Status::corruption("the reply of " + url + " to " + request.what() +
                              " is not a DLNest reply (no \"status\"): " + snippet(body));
  }
  const std::string status = json["status"].get<std::string>();
  if (status == "success") return json;
  if (status != "error") {
    return Status::corruption("the reply of " + url + " to " + request.what() +
                              " has an unknown status \"" + status + "\"");
  }
  const std::string error = error_text(body);
  return Status::failed_precondition(
      error.empty() ? "the server refused " + request.what() + " without giving a reason" : error);
}

/// The Status of a request that got no HTTP reply.
Status transport_error(httplib::Error error, const ServerEndpoint& endpoint,
                       const ClientOptions& options, const ApiRequest& request) {
  const std::string url = endpoint.url();
  switch (error) {
    case httplib::Error::Connection:
      return Status::io_error("cannot reach the DLNest server at " + url +
                              " (is `dlnest server` running?)");
    case httplib::Error::ConnectionTimeout:
      return Status::io_error("cannot reach the DLNest server at " + url + " within " +
                              std::to_string(options.connect_timeout_s) +
                              " s (is `dlnest server` running there?)");
    case httplib::Error::Read:
      return Status::io_error("the DLNest server at " + url + " did not answer " + request.what() +
                              " within " + std::to_string(options.read_timeout_s) +
                              " s, or closed the connection");
    case httplib::Error::Write:
      return Status::io_error("could not send " + request.what() + " to the DLNest server at " +
                              url + " (the connection was closed)");
    default:
      return Status::io_error(request.what() + " to the DLNest server at " + url +
                              " failed: " + httplib::to_string(error));
  }
}

httplib::Params to_httplib(const ApiParams& params) {
  httplib::Params out;
  for (const auto& [name, value] : params) out.emplace(name, value);
  return out;
}

}  // namespace

std::string ServerEndpoint::url() const {
  return std::string(tls ? "https://" : "http://") + host + ":" + std::to_string(port);
}

Result<ServerEndpoint> parse_server_address(const std::string& address) {
  std::string rest = trim(address);
  ServerEndpoint endpoint;
  for (const std::string scheme : {"http://", "https://"}) {
    if (rest.compare(0, scheme.size(), scheme) != 0) continue;
    rest = rest.substr(scheme.size());
    endpoint.tls = scheme == "https://";
    break;
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  const auto bad = [&](const std::string& why) {
    return Status::invalid_argument("bad server address \"" + address + "\": " + why +
                                    " (expected HOST:PORT, e.g. 127.0.0.1:9999)");
  };
  if (rest.find("://") != std::string::npos) return bad("only http:// and https:// are supported");
  const size_t colon = rest.rfind(':');
  endpoint.host = rest.substr(0, colon);
  if (endpoint.host.empty()) return bad("no host");
  if (endpoint.host.find_first_of("/:") != std::string::npos) return bad("not a host name");
  if (colon == std::string::npos) return endpoint;
  const std::string port = rest.substr(colon + 1);
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || errno != 0 || value < 1 || value > 65535) {
    return bad("the port must be a number from 1 to 65535");
  }
  endpoint.port = static_cast<int>(value);
  return endpoint;
}

std::string resolve_state_dir(const std::string& flag) {
  return flag.empty() ? default_state_dir() : flag;
}

Result<ServerEndpoint> resolve_endpoint(const ClientOptions& options) {
  std::string address = options.server;
  if (address.empty()) address = env_or_empty("DLNEST_SERVER");
  if (address.empty()) {
    address = std::string(kDefaultServerHost) + ":" + std::to_string(kDefaultServerPort);
  }
  Result<ServerEndpoint> endpoint = parse_server_address(address);
  if (!endpoint.is_ok()) return endpoint;
  endpoint->token = options.token;
  if (endpoint->token.empty()) endpoint->token = env_or_empty("DLNEST_TOKEN");
  if (endpoint->token.empty()) {
    auto file = Env::default_env()->read_file(resolve_state_dir(options.state_dir) + "/token");
    if (file.is_ok()) endpoint->token = trim(*file);
  }
  return endpoint;
}

std::string json_string(const Json& reply, const char* key) {
  if (!reply.is_object() || !reply.contains(key) || !reply[key].is_string()) return "";
  return reply[key].get<std::string>();
}

int64_t json_int(const Json& reply, const char* key, int64_t fallback) {
  if (!reply.is_object() || !reply.contains(key) || !reply[key].is_number_integer()) {
    return fallback;
  }
  return reply[key].get<int64_t>();
}

std::string ApiRequest::what() const {
  return (method == HttpMethod::kGet ? "GET " : "POST ") + path;
}

Result<Json> interpret_reply(const HttpReply& reply, const std::string& url,
                             const ApiRequest& request) {
  const std::string error = error_text(reply.body);
  const std::string detail = error.empty() ? "" : ": " + error;
  switch (reply.status) {
    case 200:
      return interpret_success(reply.body, url, request);
    case 401:
      return Status::failed_precondition(
          "the DLNest server at " + url + " refused " + request.what() + " (HTTP 401" + detail +
          "); it needs its token: pass --token, set DLNEST_TOKEN, or use the server's "
          "--state-dir (the server writes the token to <state dir>/token)");
    case 404:
      return Status::not_found("the DLNest server at " + url + " has no endpoint " + request.path +
                               " (HTTP 404; is it a DLNest server of this version?)");
    case 405:
      return Status::invalid_argument("the DLNest server at " + url + " does not accept " +
                                      request.what() + " (HTTP 405: method not allowed)");
    default:
      return Status::io_error(request.what() + " to the DLNest server at " + url +
                              " failed with HTTP " + std::to_string(reply.status) + ": " +
                              (error.empty() ? snippet(reply.body) : error));
  }
}

ApiClient::ApiClient(const ClientOptions& options) : options_(options) {
  Result<ServerEndpoint> endpoint = resolve_endpoint(options_);
  if (endpoint.is_ok()) {
    endpoint_ = *endpoint;
  } else {
    endpoint_status_ = endpoint.status();
  }
  http_ = std::make_unique<httplib::Client>(endpoint_.url());
  if (endpoint_.tls) {
    std::string ca = options_.tls_ca;
    if (ca.empty()) ca = env_or_empty("DLNEST_TLS_CA");
    if (!ca.empty()) http_->set_ca_cert_path(ca);
  }
  http_->set_connection_timeout(options_.connect_timeout_s, 0);
  http_->set_read_timeout(options_.read_timeout_s, 0);
  // Requests go out as two writes (headers, body): without this the body waits for the
  // server's delayed ACK, about 40 ms per request.
  http_->set_tcp_nodelay(true);
  http_->set_write_timeout(options_.read_timeout_s, 0);
  if (!endpoint_.token.empty()) http_->set_bearer_token_auth(endpoint_.token);
}

ApiClient::~ApiClient() = default;

Result<Json> ApiClient::get(const std::string& path, const ApiParams& params) {
  return exchange(ApiRequest{HttpMethod::kGet, path, params});
}

Result<Json> ApiClient::post(const std::string& path, const ApiParams& params) {
  return exchange(ApiRequest{HttpMethod::kPost, path, params});
}

Result<Json> ApiClient::send(const ApiRequest& request) {
  return request.method == HttpMethod::kGet ? get(request.path, request.params)
                                            : post(request.path, request.params);
}

Result<Json> ApiClient::exchange(const ApiRequest& request) {
  if (!endpoint_status_.is_ok()) return endpoint_status_;
  const httplib::Params params = to_httplib(request.params);
  httplib::Result result = request.method == HttpMethod::kGet
                               ? http_->Get(request.path, params, httplib::Headers{})
                               : http_->Post(request.path, params);
  if (!result) return transport_error(result.error(), endpoint_, options_, request);
  return interpret_reply(HttpReply{result->status, result->body}, endpoint_.url(), request);
}

}  // namespace dlnest
