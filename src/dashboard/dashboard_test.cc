// The dashboard's routes over a real server: the page's headers, the token cookie beyond
// loopback, and requests another site would send refused with the cookie too.
#include "dashboard/dashboard.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <string>

#include "dashboard/assets.h"
#include "server/in_process_server_test_util.h"
#include "server/server.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using dlnest::testing::TempDir;

class DashboardTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (server_ != nullptr) server_->stop();
  }

  void serve(const std::string& host) {
    ServerOptions options;
    options.host = host;
    options.insecure = true;  // beyond loopback without TLS, for the token rules only
    testing::use_test_defaults(&options, dir_.file("state"));
    auto server = Server::start(options);
    ASSERT_TRUE(server.is_ok()) << server.status().message();
    server_ = std::move(server).value();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }

  std::string origin() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  TempDir dir_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<httplib::Client> client_;
};

void expect_page_headers(const httplib::Result& res) {
  ASSERT_TRUE(res);
  EXPECT_NE(res->get_header_value("Content-Security-Policy").find("default-src 'self'"),
            std::string::npos);
  EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(res->get_header_value("X-Frame-Options"), "DENY");
}

TEST_F(DashboardTest, PageAndFilesForTheOwnerOnLoopback) {
  serve("127.0.0.1");
  auto page = client_->Get("/");
  expect_page_headers(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=UTF-8");
  EXPECT_NE(page->body.find("<script src=\"/dashboard.js\""), std::string::npos);
  for (const char* path : {"/dashboard.js", "/dashboard.css", "/favicon.svg"}) {
    auto res = client_->Get(path);
    expect_page_headers(res);
    EXPECT_EQ(res->status, 200) << path;
    EXPECT_EQ(res->body, std::string(find_dashboard_asset(path)->body)) << path;
  }
  EXPECT_EQ(client_->Get("/dashboard.js")->get_header_value("Content-Type"),
            "text/javascript; charset=UTF-8");
  EXPECT_EQ(client_->Get("/nothing.js")->status, 404);
}

TEST_F(DashboardTest, ScriptNeverWritesMarkup) {
  // Task strings (descriptions, output, metric names) must reach the page as text only.
  std::string script(find_dashboard_asset("/dashboard.js")->body);
  const std::string svg_namespace = "'http://www.w3.org/2000/svg'";  // a name, never loaded
  script.erase(script.find(svg_namespace), svg_namespace.size());
  for (const char* sink : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                           "eval(", "new Function", "http://", "https://"}) {
    EXPECT_EQ(script.find(sink), std::string::npos) << sink;
  }
}

TEST_F(DashboardTest, TokenCookieBeyondLoopback) {
  serve("0.0.0.0");
  EXPECT_EQ(client_->Get("/")->status, 401);
  auto wrong = client_->Get("/?token=0123456789abcdef0123456789abcdef");
  EXPECT_EQ(wrong->status, 401);
  EXPECT_TRUE(wrong->get_header_value("Set-Cookie").empty());
  auto login = client_->Get("/?token=" + server_->token());
  expect_page_headers(login);
  EXPECT_EQ(login->status, 303);
  EXPECT_EQ(login->get_header_value("Location"), "/");
  const std::string cookie = login->get_header_value("Set-Cookie");
  EXPECT_EQ(cookie, std::string(kTokenCookie) + "=" + server_->token() +
                        "; Path=/; HttpOnly; SameSite=Strict");
  const httplib::Headers with_cookie = {{"Cookie", "a=1; " + cookie.substr(0, cookie.find(';'))}};
  EXPECT_EQ(client_->Get("/", with_cookie)->status, 200);
  auto tasks = client_->Get("/get_task_info", with_cookie);
  EXPECT_EQ(tasks->status, 200);
  EXPECT_NE(tasks->body.find("\"success\""), std::string::npos);
  // The page's own POSTs pass; another site's do not, cookie or not.
  httplib::Headers own = with_cookie;
  own.emplace("Origin", origin());
  own.emplace("Sec-Fetch-Site", "same-origin");
  auto del = client_->Post("/del_task", own, "task_ID=T_1", "application/x-www-form-urlencoded");
  EXPECT_EQ(del->status, 200);
  EXPECT_NE(del->body.find("unknown task T_1"), std::string::npos);
  httplib::Headers evil = with_cookie;
  evil.emplace("Origin", "http://evil.example");
  EXPECT_EQ(
      client_->Post("/del_task", evil, "task_ID=T_1", "application/x-www-form-urlencoded")->status,
      403);
  httplib::Headers same_site = with_cookie;
  same_site.emplace("Sec-Fetch-Site", "same-site");
  EXPECT_EQ(client_->Get("/get_task_info", same_site)->status, 403);
}

TEST_F(DashboardTest, TaskMetricsAndProgressNameTheTask) {
  serve("127.0.0.1");
  auto missing = client_->Get("/get_task_metrics");
  EXPECT_NE(missing->body.find("Missing argument task_ID"), std::string::npos);
  auto unknown = client_->Get("/get_task_progress?task_ID=T_9");
  EXPECT_NE(unknown->body.find("unknown task T_9"), std::string::npos);
}

TEST(TokenCookieTest, FindsTheCookieAmongOthers) {
  httplib::Request req;
  EXPECT_EQ(token_cookie(req), "");
  req.headers.emplace("Cookie", "dlnest_token_x=1; b=2;dlnest_token=abc; c=3");
  EXPECT_EQ(token_cookie(req), "abc");
}

}  // namespace
}  // namespace dlnest
