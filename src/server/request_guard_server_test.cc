// The server refuses what a web page in the user's browser would send it (cross-site form posts,
// DNS rebinding), over raw HTTP on a real socket; and the mode of its token file.
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "dlnest/config.h"
#include "env/path.h"
#include "server/in_process_server_test_util.h"
#include "server/server.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

/// A reply read from a raw socket.
struct RawReply {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

/// Sends `request` as it is over a new connection and reads the reply until the server closes.
RawReply send_raw(int port, const std::string& request) {
  RawReply reply;
  const int fd = testing::connect_loopback(port);
  if (fd < 0) return reply;
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string all;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) all.append(buf, static_cast<size_t>(n));
  ::close(fd);
  const size_t end = all.find("\r\n\r\n");
  reply.head = all.substr(0, end);
  if (end != std::string::npos) reply.body = all.substr(end + 4);
  if (all.rfind("HTTP/1.", 0) == 0 && all.size() > 12) reply.status = std::stoi(all.substr(9, 3));
  return reply;
}

class RequestGuardServerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (server_ != nullptr) server_->stop();
  }

  Result<std::unique_ptr<Server>> start(ServerOptions options = {}) {
    testing::use_test_defaults(&options, dir_.file("state"));
    return Server::start(options);
  }

  void serve(ServerOptions options = {}) {
    auto server = start(options);
    ASSERT_TRUE(server.is_ok()) << server.status().message();
    server_ = std::move(server).value();
    port_ = std::to_string(server_->port());
  }

  /// A request with `Host: 127.0.0.1:<port>` (what python requests sends) and `headers`.
  RawReply request(const std::string& method, const std::string& path,
                   const std::string& headers = "", const std::string& body = "") {
    std::string text = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + port_ +
                       "\r\nConnection: close\r\n" + headers;
    if (!body.empty() || method == "POST") {
      text += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n";
    }
    return send_raw(server_->port(), text + "\r\n" + body);
  }

  double delay() {
    RawReply r = request("GET", "/get_server_info");
    EXPECT_EQ(r.status, 200) << r.body;
    return Json::parse(r.body)["delay"].get<double>();
  }

  testing::TempDir dir_;
  std::unique_ptr<Server> server_;
  std::string port_;
};

/// The HTTP status another user's client gets for GET /get_task_info (with `token` when not
/// empty): python's urllib run as uid/gid 65534. -1 when it could not run.
int status_as_other_user(int port, const std::string& token) {
  const std::string script =
      "import urllib.request, urllib.error\n"
      "r = urllib.request.Request('http://127.0.0.1:" +
      std::to_string(port) + "/get_task_info')\n" +
      (token.empty() ? "" : "r.add_header('Authorization', 'Bearer " + token + "')\n") +
      "try:\n  print(urllib.request.urlopen(r).status)\n"
      "except urllib.error.HTTPError as e:\n  print(e.code)\n";
  std::vector<std::string> args = {"/usr/bin/python3", "-c", script};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {  // async-signal-safe calls only: the server's threads run in the parent
    ::dup2(out[1], STDOUT_FILENO);
    const gid_t nobody = 65534;
    if (::setgroups(1, &nobody) != 0 || ::setgid(nobody) != 0 || ::setuid(65534) != 0) ::_exit(3);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::string text;
  char buf[64];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return text.empty() ? -1 : std::atoi(text.c_str());
}

TEST_F(RequestGuardServerTest, AnotherUsersClientNeedsTheToken) {
  if (::geteuid() != 0 || ::access("/usr/bin/python3", X_OK) != 0) {
    GTEST_SKIP() << "needs root (to run a client as another user) and /usr/bin/python3";
  }
  serve();
  EXPECT_EQ(request("GET", "/get_task_info").status, 200);  // the owner, without the token
  EXPECT_EQ(status_as_other_user(server_->port(), ""), 403);
  EXPECT_EQ(status_as_other_user(server_->port(), "wrong"), 403);
  EXPECT_EQ(status_as_other_user(server_->port(), server_->token()), 200);
}

TEST_F(RequestGuardServerTest, ACrossSiteFormPostIsRefusedBeforeItActs) {
  serve();
  const double before = delay();
  // What a page on evil.example sends with an auto-submitted <form method=post>.
  RawReply r = request("POST", "/change_delay",
                       "Origin: http://evil.example\r\nSec-Fetch-Site: cross-site\r\n"
                       "Sec-Fetch-Mode: navigate\r\n",
                       "new_delay=77");
  EXPECT_EQ(r.status, 403) << r.body;
  Json body = Json::parse(r.body);
  EXPECT_EQ(body["status"], "error");
  EXPECT_NE(body["error"].get<std::string>().find("http://evil.example"), std::string::npos);
  EXPECT_EQ(delay(), before);
  // An older browser that sends only the Origin, and one that sends only Sec-Fetch-Site.
  r = request("POST", "/change_delay", "Origin: http://evil.example\r\n", "new_delay=77");
  EXPECT_EQ(r.status, 403) << r.body;
  r = request("POST", "/change_delay", "Origin: null\r\n", "new_delay=77");
  EXPECT_EQ(r.status, 403) << r.body;
  r = request("POST", "/clear_history", "Sec-Fetch-Site: cross-site\r\n");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(delay(), before);
}

TEST_F(RequestGuardServerTest, AForeignHostIsRefused) {
  serve();
  // A DNS-rebinding page: evil.example resolves to 127.0.0.1, the browser sends its own name.
  RawReply r =
      send_raw(server_->port(), "GET /get_task_info HTTP/1.1\r\nHost: evil.example:" + port_ +
                                    "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 403) << r.body;
  Json body = Json::parse(r.body);
  EXPECT_EQ(body["status"], "error");
  EXPECT_NE(body["error"].get<std::string>().find("evil.example:" + port_), std::string::npos);
  EXPECT_NE(body["error"].get<std::string>().find("--allowed-host"), std::string::npos);
  r = send_raw(server_->port(),
               "GET /get_task_info HTTP/1.1\r\nHost: 127.0.0.1:1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 403) << r.body;
}

TEST_F(RequestGuardServerTest, ClientsWithoutAnOriginAreServed) {
  serve();
  RawReply r = request("GET", "/get_task_info");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["status"], "success");
  r = request("POST", "/change_delay", "", "new_delay=7");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(delay(), 7);
  r = request("GET", "/get_task_info", "Origin: http://127.0.0.1:" + port_ + "\r\n");
  EXPECT_EQ(r.status, 200) << r.body;
  r = request("GET", "/get_task_info", "Sec-Fetch-Site: same-origin\r\n");
  EXPECT_EQ(r.status, 200) << r.body;
  r = send_raw(server_->port(),
               "GET /get_task_info HTTP/1.1\r\nHost: LocalHost\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 200) << r.body;
  // HTTP/1.0 without Host, on loopback.
  r = send_raw(server_->port(), "GET /get_task_info HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(RequestGuardServerTest, AnAllowedHostIsServed) {
  ServerOptions options;
  options.allowed_hosts = {"gpu-box.lan"};
  serve(options);
  RawReply r =
      send_raw(server_->port(), "GET /get_task_info HTTP/1.1\r\nHost: GPU-box.lan:" + port_ +
                                    "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(RequestGuardServerTest, OptionsOnARealPathListsItsMethods) {
  serve();
  RawReply r = request("OPTIONS", "/change_delay");
  EXPECT_EQ(r.status, 204) << r.head << r.body;
  EXPECT_NE(r.head.find("Allow: POST, OPTIONS"), std::string::npos) << r.head;
  EXPECT_EQ(r.head.find("Access-Control-"), std::string::npos) << r.head;
  r = request("OPTIONS", "/get_task_info");
  EXPECT_EQ(r.status, 204);
  EXPECT_NE(r.head.find("Allow: GET, OPTIONS"), std::string::npos) << r.head;
  r = request("OPTIONS", "/no_such_path");
  EXPECT_EQ(r.status, 404) << r.body;
  // A CORS preflight from another site is refused like any cross-site request.
  r = request("OPTIONS", "/change_delay",
              "Origin: http://evil.example\r\nAccess-Control-Request-Method: POST\r\n");
  EXPECT_EQ(r.status, 403) << r.body;
}

TEST_F(RequestGuardServerTest, AFormBodyOverTheLimitIsRefusedWithTheRealLimit) {
  serve();
  RawReply r = request("POST", "/change_delay", "", "new_delay=7&x=" + std::string(9000, 'a'));
  EXPECT_EQ(r.status, 413) << r.body;
  const std::string message = Json::parse(r.body)["error"].get<std::string>();
  EXPECT_NE(message.find("8 KiB"), std::string::npos) << message;
  EXPECT_EQ(message.find("larger than 1 MiB"), std::string::npos) << message;
  // The same parameters as JSON pass up to the 1 MiB body limit.
  const std::string json = R"({"new_delay": 7, "x": ")" + std::string(100000, 'a') + "\"}";
  r = send_raw(server_->port(), "POST /change_delay HTTP/1.1\r\nHost: 127.0.0.1:" + port_ +
                                    "\r\nConnection: close\r\nContent-Type: application/json\r\n"
                                    "Content-Length: " +
                                    std::to_string(json.size()) + "\r\n\r\n" + json);
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(RequestGuardServerTest, TheTokenFileIsCreatedPrivate) {
  ServerOptions options;
  options.host = "0.0.0.0";
  options.insecure = true;
  serve(options);
  struct stat st {};
  ASSERT_EQ(::stat(dir_.file("state/token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(RequestGuardServerTest, AnExistingPrivateTokenFileIsUsed) {
  const std::string file = dir_.write("state/token", "0123456789abcdef0123\n");
  ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
  ServerOptions options;
  options.host = "0.0.0.0";
  options.insecure = true;
  serve(options);
  EXPECT_EQ(server_->token(), "0123456789abcdef0123");
}

TEST_F(RequestGuardServerTest, ATokenFileOthersCanReadIsRefused) {
  const std::string file = dir_.write("state/token", "0123456789abcdef0123\n");
  for (mode_t mode : {0644, 0640, 0604}) {
    ASSERT_EQ(::chmod(file.c_str(), mode), 0);
    ServerOptions options;
    options.host = "0.0.0.0";
    options.insecure = true;
    auto server = start(options);
    ASSERT_FALSE(server.is_ok()) << "mode " << mode;
    const std::string message = server.status().message();
    EXPECT_NE(message.find(path::absolute(file)), std::string::npos) << message;
    EXPECT_NE(message.find("chmod 600 " + path::absolute(file)), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace dlnest
