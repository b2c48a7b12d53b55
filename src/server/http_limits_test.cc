// The server's HTTP limits (docs/server.md, "HTTP limits") against real sockets: clients that
// stall mid-request or stay idle cannot starve the others, a burst of clients is answered, and
// the kernel queues enough connections before the server accepts them.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "server/in_process_server_test_util.h"
#include "server/server.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using testing::TempDir;
using Clock = std::chrono::steady_clock;

/// More stalled connections than cpp-httplib's default pool has threads (8, or one per core
/// less one), and fewer than the server's pool.
constexpr int kStalledClients = 32;
/// How long a normal request may take while the others stall: far under the read timeout (5 s),
/// generous for a loaded 2-core machine.
constexpr double kAnswerBoundS = 2;
/// The server's read and keep-alive timeouts (server.cc), and the slack allowed around them.
constexpr double kReadTimeoutS = 5;
constexpr double kKeepAliveTimeoutS = 5;
constexpr double kSlackS = 2.5;
constexpr int kParallelClients = 50;
constexpr int kMinBacklog = 128;
/// Linux retransmits a dropped SYN after 1 s: a connect that waited this long was dropped.
constexpr double kSynRetransmitS = 1;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// What the server did on a connection, in seconds from when the watch began; -1: not yet.
struct ServerSide {
  double replied_s = -1;
  double closed_s = -1;
};

/// Watches `fds` until the server has closed all of them or `limit_s` passed, reading and
/// dropping what it sends (such as a 400 reply).
std::vector<ServerSide> watch(const std::vector<int>& fds, double limit_s) {
  const auto start = Clock::now();
  std::vector<ServerSide> sides(fds.size());
  std::vector<pollfd> open;
  for (int fd : fds) open.push_back(pollfd{fd, POLLIN, 0});
  size_t still_open = fds.size();
  char buf[4096];
  while (still_open > 0 && seconds_since(start) < limit_s) {
    if (::poll(open.data(), open.size(), 50) <= 0) continue;
    for (size_t i = 0; i < open.size(); ++i) {
      if (open[i].fd < 0 || open[i].revents == 0) continue;
      const ssize_t n = ::recv(open[i].fd, buf, sizeof buf, 0);
      double& when = n > 0 ? sides[i].replied_s : sides[i].closed_s;
      if (when < 0) when = seconds_since(start);
      if (n > 0) continue;
      open[i].fd = -1;  // poll ignores it from now on
      --still_open;
    }
  }
  return sides;
}

/// The listen backlog of the TCP socket listening on port `port`, as the kernel reports it to
/// `ss -ltn` (its Send-Q): inet_diag's write queue of a listening socket. -1 when not found.
int listen_backlog(int port) {
  const int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return -1;
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.request.sdiag_family = AF_INET;
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = 1u << TCP_LISTEN;
  int backlog = -1;
  bool done = ::send(fd, &message, sizeof message, 0) != sizeof message;
  alignas(nlmsghdr) char buf[32768];
  while (!done) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) done = true;
      if (done) break;
      const auto* socket = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
      if (ntohs(socket->id.idiag_sport) == port) backlog = static_cast<int>(socket->idiag_wqueue);
    }
  }
  ::close(fd);
  return backlog;
}

class HttpLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    testing::use_test_defaults(&options, dir_.file("state"));
    auto server = Server::start(options);
    ASSERT_TRUE(server.is_ok()) << server.status().message();
    server_ = std::move(server).value();
  }

  void TearDown() override {
    for (int fd : raw_) ::close(fd);
    if (server_ != nullptr) server_->stop();
  }

  /// Opens `n` connections that send the first line of a request and then nothing.
  void stall_clients(int n) {
    const std::string half = "GET /get_task_info HTTP/1.1\r\n";
    for (int i = 0; i < n; ++i) {
      const int fd = testing::connect_loopback(server_->port());
      ASSERT_GE(fd, 0) << "connection " << i << " refused";
      ASSERT_EQ(::send(fd, half.data(), half.size(), MSG_NOSIGNAL), ssize_t(half.size()));
      raw_.push_back(fd);
    }
  }

  /// GET /get_task_info on a new connection; its seconds, or -1 when it got no 200.
  double timed_get() {
    httplib::Client client("127.0.0.1", server_->port());
    client.set_connection_timeout(30, 0);
    client.set_read_timeout(30, 0);
    const auto start = Clock::now();
    auto res = client.Get("/get_task_info");
    if (!res) ADD_FAILURE() << "GET /get_task_info: " << httplib::to_string(res.error());
    if (res && res->status != 200) ADD_FAILURE() << "HTTP " << res->status << " " << res->body;
    return res && res->status == 200 ? seconds_since(start) : -1;
  }

  TempDir dir_;
  std::unique_ptr<Server> server_;
  std::vector<int> raw_;
};

TEST_F(HttpLimitsTest, StalledClientsDoNotStarveOthers) {
  stall_clients(kStalledClients);
  // Let the server hand every stalled connection to a thread before the normal client comes.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int i = 0; i < 3; ++i) {
    const double s = timed_get();
    EXPECT_GE(s, 0);
    EXPECT_LT(s, kAnswerBoundS) << "request " << i << " while " << kStalledClients
                                << " clients stall";
  }
}

TEST_F(HttpLimitsTest, StalledAndIdleConnectionsAreClosedAfterTheTimeouts) {
  stall_clients(1);
  const int idle = testing::connect_loopback(server_->port());
  ASSERT_GE(idle, 0);
  raw_.push_back(idle);
  const std::vector<ServerSide> sides = watch(raw_, kReadTimeoutS + kKeepAliveTimeoutS + kSlackS);
  // The stalled request is answered (400) after the read timeout, then closed once it has been
  // idle for the keep-alive timeout; the idle connection is closed after the keep-alive timeout.
  EXPECT_GT(sides[0].replied_s, kReadTimeoutS - kSlackS) << "stalled request answered too early";
  EXPECT_LT(sides[0].replied_s, kReadTimeoutS + kSlackS) << "stalled request answered too late";
  EXPECT_GE(sides[0].replied_s, 0) << "stalled request never answered";
  EXPECT_GE(sides[0].closed_s, 0) << "stalled request never closed";
  EXPECT_GT(sides[1].closed_s, kKeepAliveTimeoutS - kSlackS) << "idle connection closed too early";
  EXPECT_LT(sides[1].closed_s, kKeepAliveTimeoutS + kSlackS) << "idle connection closed too late";
  EXPECT_GE(sides[1].closed_s, 0) << "idle connection never closed";
}

TEST_F(HttpLimitsTest, ParallelClientsAreAllAnswered) {
  std::atomic<bool> go{false};
  std::atomic<int> ready{0};
  std::vector<double> seconds(kParallelClients, -1);
  std::vector<std::thread> clients;
  for (int i = 0; i < kParallelClients; ++i) {
    clients.emplace_back([&, i] {
      ++ready;
      while (!go) std::this_thread::yield();
      seconds[static_cast<size_t>(i)] = timed_get();
    });
  }
  while (ready < kParallelClients) std::this_thread::yield();
  go = true;
  for (std::thread& t : clients) t.join();
  for (int i = 0; i < kParallelClients; ++i) {
    EXPECT_GE(seconds[static_cast<size_t>(i)], 0) << "client " << i;
    EXPECT_LT(seconds[static_cast<size_t>(i)], kSynRetransmitS)
        << "client " << i << " waited for a SYN retransmit (the accept queue was full)";
  }
}

TEST_F(HttpLimitsTest, ListenBacklogIsLarge) {
  EXPECT_GE(listen_backlog(server_->port()), kMinBacklog);
}

}  // namespace
}  // namespace dlnest
