#include "server/peer_owner.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace dlnest {
namespace {

constexpr const char* kProcNetTcp =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
    "   0: 0100007F:270F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
    "1 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0100007F:C350 0100007F:270F 01 00000000:00000000 00:00000000 00000000  1001        0 "
    "2 1 0000000000000000 20 4 30 10 -1\n"
    "   2: 0100007F:270F 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 "
    "3 1 0000000000000000 20 4 30 10 -1\n";

TEST(PeerOwnerTest, WritesAddressesAsTheKernelDoes) {
  EXPECT_EQ(proc_net_address("127.0.0.1", 9999), "0100007F:270F");
  EXPECT_EQ(proc_net_address("::1", 80), "00000000000000000000000001000000:0050");
  EXPECT_EQ(proc_net_address("localhost", 80), "");
}

TEST(PeerOwnerTest, FindsTheOwnerOfThePeersSocket) {
  // The client's socket 127.0.0.1:50000 -> :9999 belongs to uid 1001; the server's end to 0.
  EXPECT_EQ(socket_owner_in(kProcNetTcp, "0100007F:C350", 9999), 1001u);
  EXPECT_EQ(socket_owner_in(kProcNetTcp, "0100007F:C351", 9999), std::nullopt);
  EXPECT_EQ(socket_owner_in(kProcNetTcp, "0100007F:C350", 9998), std::nullopt);
  EXPECT_EQ(socket_owner_in("", "0100007F:C350", 9999), std::nullopt);
}

TEST(PeerOwnerTest, ARealLoopbackConnectionIsOurs) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int server_port = ntohs(addr.sin_port);
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  sockaddr_in mine{};
  len = sizeof mine;
  ASSERT_EQ(::getsockname(client, reinterpret_cast<sockaddr*>(&mine), &len), 0);
  EXPECT_EQ(loopback_peer_uid("127.0.0.1", ntohs(mine.sin_port), server_port), ::getuid());
  EXPECT_EQ(loopback_peer_uid("127.0.0.1", ntohs(mine.sin_port), server_port + 1), std::nullopt);
  ::close(client);
  ::close(listener);
}

}  // namespace
}  // namespace dlnest
