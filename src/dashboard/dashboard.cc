#include "dashboard/dashboard.h"

#include <httplib.h>

#include "dashboard/assets.h"
#include "dashboard/package_metrics.h"

namespace dlnest {
namespace {

constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

void send_text(httplib::Response& res, int status, const std::string& text) {
  res.status = status;
  res.set_content(text, "text/plain; charset=UTF-8");
}

/// `/?token=...`: a right token becomes the cookie, and the browser goes on to `/` without it.
void accept_token(const httplib::Request& req, httplib::Response& res,
                  const DashboardAccess& access) {
  if (!access.is_token(req.get_param_value("token"))) {
    send_text(res, 401,
              "wrong token: open the dashboard as /?token=<the token in <state dir>/token>");
    return;
  }
  std::string cookie = std::string(kTokenCookie) + "=" + req.get_param_value("token") +
                       "; Path=/; HttpOnly; SameSite=Strict";
  if (access.tls) cookie += "; Secure";
  res.status = 303;
  res.set_header("Set-Cookie", cookie);
  res.set_header("Location", "/");
}

void serve_asset(const httplib::Request& req, httplib::Response& res,
                 const DashboardAccess& access) {
  set_page_headers(res);
  if (req.path == "/" && req.has_param("token")) return accept_token(req, res, access);
  if (!access.authorize(req, res)) return;
  const DashboardAsset* asset = find_dashboard_asset(req.path);
  if (asset == nullptr) return send_text(res, 404, "unknown path " + req.path);
  res.set_content(std::string(asset->body), std::string(asset->content_type).c_str());
}

}  // namespace

void set_page_headers(httplib::Response& res) {
  res.set_header("Content-Security-Policy", kContentSecurityPolicy);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cache-Control", "no-store");
}

std::string token_cookie(const httplib::Request& req) {
  const std::string header = req.get_header_value("Cookie");
  const std::string name = std::string(kTokenCookie) + "=";
  size_t at = 0;
  while (at < header.size()) {
    while (at < header.size() && (header[at] == ' ' || header[at] == ';')) ++at;
    size_t end = header.find(';', at);
    if (end == std::string::npos) end = header.size();
    if (header.compare(at, name.size(), name) == 0) {
      return header.substr(at + name.size(), end - at - name.size());
    }
    at = end;
  }
  return "";
}

void install_dashboard(httplib::Server& http, DashboardAccess access) {
  auto handler = [access = std::move(access)](const httplib::Request& req, httplib::Response& res) {
    serve_asset(req, res, access);
  };
  for (const char* path : {"/", "/dashboard.js", "/dashboard.css", "/favicon.svg"}) {
    http.Get(path, handler);
  }
}

Result<Json> task_metrics_reply(const std::string& package_dir, const RequestParams& params) {
  DLNEST_ASSIGN_OR_RETURN(int64_t offset, params.get_int("offset", 0));
  if (offset < 0) return Status::invalid_argument("offset must be >= 0");
  DLNEST_ASSIGN_OR_RETURN(int64_t max_bytes,
                          params.get_int("max_bytes", static_cast<int64_t>(kDefaultMetricsBytes)));
  if (max_bytes <= 0 || max_bytes > static_cast<int64_t>(kMaxMetricsBytes)) {
    return Status::invalid_argument("max_bytes must be between 1 and " +
                                    std::to_string(kMaxMetricsBytes));
  }
  return read_metrics(package_dir, offset, static_cast<size_t>(max_bytes));
}

Result<Json> task_progress_reply(const std::string& package_dir) {
  DLNEST_ASSIGN_OR_RETURN(Json progress, read_progress(package_dir));
  return Json{{"progress", std::move(progress)}};
}

Json task_info_progress(const std::string& package_dir, double since) {
  if (package_dir.empty()) return nullptr;
  Result<Json> progress = read_progress(package_dir);
  if (!progress.is_ok() || !progress->is_object()) return nullptr;
  const auto updated = progress->find("updated_at");
  if (updated == progress->end() || !updated->is_number() || updated->get<double>() < since) {
    return nullptr;
  }
  return std::move(progress).value();
}

}  // namespace dlnest
