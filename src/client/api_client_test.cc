#include "client/api_client.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using ::testing::HasSubstr;

/// Sets an environment variable for one test and restores it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = ::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (had_) {
      ::setenv(name_, old_.c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

/// A loopback port that is bound but not listening: connecting to it is refused, and no other
/// process can take it while the test runs.
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~RefusingPort() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

ApiRequest get_info() {
  return ApiRequest{HttpMethod::kGet, "/get_task_info", {}};
}

// --- addresses ----------------------------------------------------------------------------------

TEST(ParseServerAddress, HostAndPort) {
  auto e = parse_server_address("10.0.0.5:8080");
  ASSERT_TRUE(e.is_ok()) << e.status().message();
  EXPECT_EQ(e->host, "10.0.0.5");
  EXPECT_EQ(e->port, 8080);
  EXPECT_EQ(e->url(), "http://10.0.0.5:8080");
}

TEST(ParseServerAddress, HostAloneUsesTheDefaultPort) {
  EXPECT_EQ(parse_server_address("gpu-box")->url(), "http://gpu-box:9999");
}

TEST(ParseServerAddress, HttpPrefixAndTrailingSlash) {
  EXPECT_EQ(parse_server_address("http://localhost:1234/")->url(), "http://localhost:1234");
}

TEST(ParseServerAddress, HttpsPrefixMeansTls) {
  const Result<ServerEndpoint> endpoint = parse_server_address("https://gpu-box.lan:9443");
  ASSERT_TRUE(endpoint.is_ok());
  EXPECT_TRUE(endpoint->tls);
  EXPECT_EQ(endpoint->url(), "https://gpu-box.lan:9443");
  EXPECT_FALSE(parse_server_address("http://gpu-box.lan:9443")->tls);
}

TEST(ParseServerAddress, Errors) {
  EXPECT_EQ(parse_server_address("host:http").status().message(),
            "bad server address \"host:http\": the port must be a number from 1 to 65535 "
            "(expected HOST:PORT, e.g. 127.0.0.1:9999)");
  EXPECT_THAT(parse_server_address("host:0").status().message(), HasSubstr("from 1 to 65535"));
  EXPECT_THAT(parse_server_address("host:70000").status().message(), HasSubstr("1 to 65535"));
  EXPECT_THAT(parse_server_address(":9999").status().message(), HasSubstr("no host"));
  EXPECT_THAT(parse_server_address("ftp://h:1").status().message(),
              HasSubstr("only http:// and https:// are supported"));
  EXPECT_THAT(parse_server_address("a/b:1").status().message(), HasSubstr("not a host name"));
}

TEST(ResolveEndpoint, DefaultsWithoutFlagsOrEnvironment) {
  testing::TempDir dir;
  ScopedEnv server("DLNEST_SERVER", nullptr);
  ScopedEnv token("DLNEST_TOKEN", nullptr);
  ClientOptions options;
  options.state_dir = dir.path();
  auto e = resolve_endpoint(options);
  ASSERT_TRUE(e.is_ok());
  EXPECT_EQ(e->url(), "http://127.0.0.1:9999");
  EXPECT_EQ(e->token, "");
}

TEST(ResolveEndpoint, EnvironmentThenFlags) {
  testing::TempDir dir;
  ScopedEnv server("DLNEST_SERVER", "envhost:7000");
  ScopedEnv token("DLNEST_TOKEN", "envtoken");
  ClientOptions options;
  options.state_dir = dir.path();
  EXPECT_EQ(resolve_endpoint(options)->url(), "http://envhost:7000");
  EXPECT_EQ(resolve_endpoint(options)->token, "envtoken");
  options.server = "flaghost:7001";
  options.token = "flagtoken";
  EXPECT_EQ(resolve_endpoint(options)->url(), "http://flaghost:7001");
  EXPECT_EQ(resolve_endpoint(options)->token, "flagtoken");
}

TEST(ResolveEndpoint, TokenFileInTheStateDir) {
  testing::TempDir dir;
  ScopedEnv token("DLNEST_TOKEN", nullptr);
  dir.write("token", "s3cret\n");
  ClientOptions options;
  options.state_dir = dir.path();
  options.server = "h:1";
  EXPECT_EQ(resolve_endpoint(options)->token, "s3cret");
}

TEST(ResolveEndpoint, BadAddressFromTheEnvironmentIsAnError) {
  ScopedEnv server("DLNEST_SERVER", "h:port");
  EXPECT_THAT(resolve_endpoint(ClientOptions()).status().message(),
              HasSubstr("bad server address \"h:port\""));
}

TEST(ResolveStateDir, FlagElseDefault) {
  EXPECT_EQ(resolve_state_dir("/x"), "/x");
  ScopedEnv xdg("XDG_STATE_HOME", "/xdg");
  EXPECT_EQ(resolve_state_dir(""), "/xdg/dlnest");
}

// --- replies ------------------------------------------------------------------------------------

TEST(InterpretReply, Success) {
  auto r =
      interpret_reply({200, R"({"status":"success","task_ID":"T_1"})"}, "http://h:1", get_info());
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)["task_ID"], "T_1");
}

TEST(InterpretReply, ServerErrorTextIsTheMessage) {
  auto r = interpret_reply({200, R"({"status":"error","error":"task T_9 does not exist"})"},
                           "http://h:1", get_info());
  EXPECT_EQ(r.status().message(), "task T_9 does not exist");
  EXPECT_EQ(r.status().code(), Status::Code::kFailedPrecondition);
}

TEST(InterpretReply, EmptyServerErrorSaysSo) {
  auto r = interpret_reply({200, R"({"status":"error","error":""})"}, "http://h:1",
                           ApiRequest{HttpMethod::kPost, "/run_exp", {}});
  EXPECT_EQ(r.status().message(), "the server refused POST /run_exp without giving a reason");
}

TEST(InterpretReply, NotJson) {
  auto r = interpret_reply({200, "<html>hello</html>"}, "http://h:1", get_info());
  EXPECT_EQ(r.status().message(),
            "the reply of http://h:1 to GET /get_task_info is not JSON (is a DLNest server "
            "listening there?): <html>hello</html>");
}

TEST(InterpretReply, JsonWithoutStatus) {
  auto r = interpret_reply({200, "[1,2]"}, "http://h:1", get_info());
  EXPECT_EQ(r.status().message(),
            "the reply of http://h:1 to GET /get_task_info is not a DLNest reply (no \"status\"): "
            "[1,2]");
}

TEST(InterpretReply, Unauthorized) {
  auto r = interpret_reply({401, R"({"status":"error","error":"missing token"})"}, "http://h:1",
                           get_info());
  EXPECT_EQ(r.status().message(),
            "the DLNest server at http://h:1 refused GET /get_task_info (HTTP 401: missing "
            "token); it needs its token: pass --token, set DLNEST_TOKEN, or use the server's "
            "--state-dir (the server writes the token to <state dir>/token)");
}

TEST(InterpretReply, NotFoundAndMethodNotAllowed) {
  EXPECT_EQ(interpret_reply({404, "<html>404</html>"}, "http://h:1",
                            ApiRequest{HttpMethod::kGet, "/get_task", {}})
                .status()
                .message(),
            "the DLNest server at http://h:1 has no endpoint /get_task (HTTP 404; is it a DLNest "
            "server of this version?)");
  EXPECT_EQ(interpret_reply({405, ""}, "http://h:1", get_info()).status().message(),
            "the DLNest server at http://h:1 does not accept GET /get_task_info (HTTP 405: "
            "method not allowed)");
}

TEST(InterpretReply, OtherHttpStatus) {
  EXPECT_EQ(interpret_reply({413, R"({"status":"error","error":"body too large"})"}, "http://h:1",
                            get_info())
                .status()
                .message(),
            "GET /get_task_info to the DLNest server at http://h:1 failed with HTTP 413: body "
            "too large");
  EXPECT_EQ(
      interpret_reply({500, std::string(300, 'x')}, "http://h:1", get_info()).status().message(),
      "GET /get_task_info to the DLNest server at http://h:1 failed with HTTP 500: " +
          std::string(200, 'x') + "...");
}

// --- the network
// ----------------------------------------------------------------------------------

TEST(ApiClient, RefusedConnectionSaysHowToStartTheServer) {
  RefusingPort port;
  ClientOptions options;
  options.server = "127.0.0.1:" + std::to_string(port.port());
  ApiClient client(options);
  auto r = client.get("/get_task_info");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message(),
            "cannot reach the DLNest server at http://127.0.0.1:" + std::to_string(port.port()) +
                " (is `dlnest server` running?)");
  EXPECT_EQ(r.status().code(), Status::Code::kIOError);
  EXPECT_FALSE(client.post("/clear").is_ok());
}

TEST(ApiClient, BadAddressIsTheErrorOfEveryRequest) {
  ClientOptions options;
  options.server = "h:x";
  ApiClient client(options);
  EXPECT_THAT(client.get("/get_task_info").status().message(),
              HasSubstr("bad server address \"h:x\""));
  EXPECT_THAT(client.post("/clear").status().message(), HasSubstr("bad server address"));
}

/// A real HTTP server on a free loopback port that echoes what it received.
class EchoServer {
 public:
  EchoServer() {
    const auto echo = [](const httplib::Request& req, httplib::Response& res) {
      Json params = Json::array();
      for (const auto& [name, value] : req.params) params.push_back({name, value});
      Json reply = {{"status", "success"},
                    {"method", req.method},
                    {"params", params},
                    {"auth", req.get_header_value("Authorization")}};
      res.set_content(reply.dump(), "application/json");
    };
    server_.Get("/echo", echo);
    server_.Post("/echo", echo);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~EchoServer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST(ApiClient, SendsRepeatedParamsAndTheToken) {
  EchoServer server;
  ClientOptions options;
  options.server = "127.0.0.1:" + std::to_string(server.port());
  options.token = "tok";
  ApiClient client(options);
  const ApiParams params = {{"new_devices_IDs", "0"}, {"new_devices_IDs", "1"}, {"d", "a b&c"}};
  for (const HttpMethod method : {HttpMethod::kGet, HttpMethod::kPost}) {
    auto r = client.send(ApiRequest{method, "/echo", params});
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ((*r)["method"], method == HttpMethod::kGet ? "GET" : "POST");
    EXPECT_EQ((*r)["auth"], "Bearer tok");
    const Json expected = Json::parse(R"([["d","a b&c"],["new_devices_IDs","0"],)"
                                      R"(["new_devices_IDs","1"]])");
    EXPECT_EQ((*r)["params"], expected);
  }
  auto missing = client.get("/nope");
  EXPECT_THAT(missing.status().message(), HasSubstr("has no endpoint /nope (HTTP 404"));
}

}  // namespace
}  // namespace dlnest
