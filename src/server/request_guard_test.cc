#include "server/request_guard.h"

#include <gtest/gtest.h>

namespace dlnest {
namespace {

ServerIdentity loopback() {
  ServerIdentity s;
  s.bound_host = "127.0.0.1";
  s.port = 9999;
  return s;
}

GuardHeaders with_host(const std::string& host) {
  GuardHeaders h;
  h.host = host;
  return h;
}

TEST(RequestGuardTest, LoopbackNamesWithOrWithoutTheServersPort) {
  const ServerIdentity s = loopback();
  for (const char* host : {"localhost", "localhost:9999", "127.0.0.1", "127.0.0.1:9999", "[::1]",
                           "[::1]:9999", "LocalHost:9999", "LOCALHOST"}) {
    EXPECT_TRUE(host_names_server(s, host)) << host;
    EXPECT_TRUE(check_request(s, with_host(host)).is_ok()) << host;
  }
}

TEST(RequestGuardTest, APortOtherThanTheServersIsRefused) {
  const ServerIdentity s = loopback();
  for (const char* host : {"localhost:80", "127.0.0.1:9998", "[::1]:1", "localhost:", "localhost:x",
                           "localhost:099999"}) {
    EXPECT_FALSE(host_names_server(s, host)) << host;
  }
}

TEST(RequestGuardTest, OtherNamesAreRefusedWithTheWayToAllowThem) {
  const ServerIdentity s = loopback();
  for (const char* host : {"evil.example:9999", "evil.example", "", "::1", "[::1", "10.0.0.1:9999",
                           "localhost.evil.example:9999", "[::2]:9999"}) {
    EXPECT_FALSE(host_names_server(s, host)) << host;
  }
  const Status st = check_request(s, with_host("evil.example:9999"));
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("refused Host 'evil.example:9999'"), std::string::npos);
  EXPECT_NE(st.message().find("--allowed-host NAME"), std::string::npos);
}

TEST(RequestGuardTest, TheBoundAddressAndAllowedHostsIgnoringCase) {
  ServerIdentity s;
  s.bound_host = "192.168.1.5";
  s.port = 8000;
  s.allowed_hosts = {"GPU-Box.lan", "[fe80::1]"};
  EXPECT_TRUE(host_names_server(s, "192.168.1.5:8000"));
  EXPECT_TRUE(host_names_server(s, "gpu-box.LAN:8000"));
  EXPECT_TRUE(host_names_server(s, "gpu-box.lan"));
  EXPECT_TRUE(host_names_server(s, "[FE80::1]:8000"));
  EXPECT_FALSE(host_names_server(s, "gpu-box.lan:9999"));
  EXPECT_FALSE(host_names_server(s, "other-box.lan:8000"));

  ServerIdentity v6;
  v6.bound_host = "::1";
  v6.port = 8000;
  EXPECT_TRUE(host_names_server(v6, "[::1]:8000"));
  EXPECT_FALSE(host_names_server(v6, "[::2]:8000"));
}

TEST(RequestGuardTest, AMissingHostIsAcceptedOnLoopbackOnly) {
  EXPECT_TRUE(check_request(loopback(), GuardHeaders{}).is_ok());
  ServerIdentity s;
  s.bound_host = "0.0.0.0";
  s.port = 9999;
  const Status st = check_request(s, GuardHeaders{});
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("without a Host header"), std::string::npos);
}

TEST(RequestGuardTest, OnlyTheServersOwnOriginIsAccepted) {
  const ServerIdentity s = loopback();
  EXPECT_TRUE(origin_is_server(s, "http://127.0.0.1:9999"));
  EXPECT_TRUE(origin_is_server(s, "http://localhost:9999"));
  EXPECT_TRUE(origin_is_server(s, "HTTP://LOCALHOST:9999"));
  EXPECT_TRUE(origin_is_server(s, "http://[::1]:9999"));
  for (const char* origin :
       {"http://evil.example", "http://evil.example:9999", "null", "", "https://127.0.0.1:9999",
        "http://127.0.0.1", "http://127.0.0.1:9998", "http://127.0.0.1:9999/", "file://",
        "http://localhost.evil.example:9999"}) {
    EXPECT_FALSE(origin_is_server(s, origin)) << origin;
  }
  ServerIdentity port80 = loopback();
  port80.port = 80;
  EXPECT_TRUE(origin_is_server(port80, "http://localhost"));
}

TEST(RequestGuardTest, AServerWithTlsHasAnHttpsOrigin) {
  ServerIdentity s = loopback();
  s.tls = true;
  EXPECT_TRUE(origin_is_server(s, "https://127.0.0.1:9999"));
  EXPECT_TRUE(origin_is_server(s, "https://localhost:9999"));
  EXPECT_FALSE(origin_is_server(s, "http://127.0.0.1:9999"));
  EXPECT_FALSE(origin_is_server(s, "https://evil.example:9999"));
  s.port = 443;
  EXPECT_TRUE(origin_is_server(s, "https://localhost"));
}

TEST(RequestGuardTest, AForeignOriginIsRefused) {
  GuardHeaders h = with_host("127.0.0.1:9999");
  h.origin = "http://evil.example";
  Status st = check_request(loopback(), h);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("Origin 'http://evil.example'"), std::string::npos);
  h.origin = "null";
  EXPECT_FALSE(check_request(loopback(), h).is_ok());
  h.origin = "http://127.0.0.1:9999";
  EXPECT_TRUE(check_request(loopback(), h).is_ok());
}

TEST(RequestGuardTest, CrossSiteAndSameSiteFetchesAreRefused) {
  GuardHeaders h = with_host("127.0.0.1:9999");
  for (const char* site : {"cross-site", "same-site", "Cross-Site"}) {
    h.sec_fetch_site = site;
    const Status st = check_request(loopback(), h);
    ASSERT_FALSE(st.is_ok()) << site;
    EXPECT_NE(st.message().find("Sec-Fetch-Site"), std::string::npos);
  }
  for (const char* site : {"same-origin", "none"}) {
    h.sec_fetch_site = site;
    EXPECT_TRUE(check_request(loopback(), h).is_ok()) << site;
  }
}

TEST(RequestGuardTest, LoopbackAddresses) {
  for (const char* host : {"localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "LOCALHOST"}) {
    EXPECT_TRUE(is_loopback_address(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "192.168.1.5", "evil.example"}) {
    EXPECT_FALSE(is_loopback_address(host)) << host;
  }
}

}  // namespace
}  // namespace dlnest
