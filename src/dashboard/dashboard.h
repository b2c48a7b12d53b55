// The web dashboard that `dlnest server` serves at `/` (docs/dashboard.md): a page, its script
// and style sheet, all embedded in the binary, served under the API's access rules.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "dlnest/status.h"
#include "server/request_params.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace dlnest {

/// The cookie that carries the token for a browser beyond loopback: set by `/?token=<token>`,
/// HttpOnly, SameSite=Strict (and Secure with TLS).
inline constexpr const char* kTokenCookie = "dlnest_token";

/// The headers every dashboard file is sent with: a Content-Security-Policy that lets the page
/// load and connect to this server only, no sniffing, no framing, no referrer.
void set_page_headers(httplib::Response& res);

/// The value of the token cookie in the request's Cookie header, "" when there is none.
std::string token_cookie(const httplib::Request& req);

/// What the dashboard needs from the server it is installed in.
struct DashboardAccess {
  /// Answers 401/403 itself and returns false unless the request may act as the server's owner
  /// (the rule of every API route, which also accepts the token cookie).
  std::function<bool(const httplib::Request&, httplib::Response&)> authorize;
  /// Whether `token` is the server's token (compared in constant time).
  std::function<bool(const std::string& token)> is_token;
  bool tls = false;  ///< the cookie is then Secure
};

/// Serves the page at `/` and its files (GET only). `/?token=<token>` sets the token cookie and
/// redirects to `/`, so that the token leaves the address bar at once.
void install_dashboard(httplib::Server& http, DashboardAccess access);

/// GET /get_task_metrics of a task whose save package is `package_dir`: offset (default 0),
/// max_bytes (default kDefaultMetricsBytes, at most kMaxMetricsBytes); read_metrics' reply.
Result<Json> task_metrics_reply(const std::string& package_dir, const RequestParams& params);

/// GET /get_task_progress: {"progress": <progress.json> or null}.
Result<Json> task_progress_reply(const std::string& package_dir);

/// The "progress" of a task info entry (docs/api.md, "Task info"): `package_dir`'s progress.json
/// when it was written since `since` (Unix seconds: the task's submission, so that a record of an
/// earlier run of the package is not taken for this one's), else null; a file that cannot be
/// read is null too.
Json task_info_progress(const std::string& package_dir, double since);

}  // namespace dlnest
