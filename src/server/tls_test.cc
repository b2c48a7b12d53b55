// The server over TLS (--tls-cert, --tls-key): a real server with a certificate made by the
// openssl command, and the project's own client.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "client/api_client.h"
#include "server/in_process_server_test_util.h"
#include "server/server.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = dir_.file("cert.pem");
    key_ = dir_.file("key.pem");
    const std::string command =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
        "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
        key_ + " -out " + cert_ + " 2>/dev/null";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    ::chmod(key_.c_str(), 0600);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->stop();
  }

  ServerOptions options() {
    ServerOptions o;
    testing::use_test_defaults(&o, dir_.file("state"));
    o.tls = TlsFiles{cert_, key_};
    return o;
  }

  void serve(const ServerOptions& o) {
    auto server = Server::start(o);
    ASSERT_TRUE(server.is_ok()) << server.status().message();
    server_ = std::move(server).value();
  }

  /// GET /get_server_info through the client at `address`, trusting `ca` (empty: the system's).
  Result<Json> server_info(const std::string& address, const std::string& ca) {
    ClientOptions client;
    client.server = address;
    client.tls_ca = ca;
    client.state_dir = dir_.file("state");
    ApiClient api(client);
    return api.get("/get_server_info");
  }

  testing::TempDir dir_;
  std::string cert_;
  std::string key_;
  std::unique_ptr<Server> server_;
};

TEST_F(TlsTest, ServesHttpsToAClientThatTrustsTheCertificate) {
  serve(options());
  const std::string port = std::to_string(server_->port());
  EXPECT_EQ(server_->url(), "https://127.0.0.1:" + port);
  Result<Json> info = server_info("https://127.0.0.1:" + port, cert_);
  ASSERT_TRUE(info.is_ok()) << info.status().message();
  EXPECT_EQ(json_string(*info, "status"), "success");
}

TEST_F(TlsTest, AClientThatDoesNotTrustTheCertificateGetsNoReply) {
  serve(options());
  const std::string port = std::to_string(server_->port());
  Result<Json> info = server_info("https://127.0.0.1:" + port, "");  // system authorities
  EXPECT_FALSE(info.is_ok());
}

TEST_F(TlsTest, PlainHttpToTheTlsPortGetsNoReply) {
  serve(options());
  Result<Json> info = server_info("127.0.0.1:" + std::to_string(server_->port()), "");
  EXPECT_FALSE(info.is_ok());
}

TEST_F(TlsTest, ANonLoopbackAddressWithTlsNeedsNoInsecureFlag) {
  ServerOptions o = options();
  o.host = "0.0.0.0";
  serve(o);
  ClientOptions client;
  client.server = "https://127.0.0.1:" + std::to_string(server_->port());
  client.tls_ca = cert_;
  client.token = server_->token();
  ApiClient api(client);
  Result<Json> info = api.get("/get_server_info");
  ASSERT_TRUE(info.is_ok()) << info.status().message();
}

TEST_F(TlsTest, ANonLoopbackAddressWithoutTlsOrInsecureIsRefused) {
  ServerOptions o = options();
  o.tls = TlsFiles{};
  o.host = "0.0.0.0";
  auto server = Server::start(o);
  ASSERT_FALSE(server.is_ok());
  EXPECT_NE(server.status().message().find("--tls-cert"), std::string::npos)
      << server.status().message();
}

TEST_F(TlsTest, ACertificateWithoutKeyIsRefusedNamingTheMissingFlag) {
  ServerOptions o = options();
  o.tls.key.clear();
  auto server = Server::start(o);
  ASSERT_FALSE(server.is_ok());
  EXPECT_NE(server.status().message().find("--tls-key"), std::string::npos)
      << server.status().message();
}

TEST_F(TlsTest, AKeyOthersMayReadIsRefused) {
  ::chmod(key_.c_str(), 0644);
  auto server = Server::start(options());
  ASSERT_FALSE(server.is_ok());
  EXPECT_NE(server.status().message().find(key_), std::string::npos);
  EXPECT_NE(server.status().message().find("chmod 600"), std::string::npos);
}

TEST_F(TlsTest, ACertificateThatIsNotPemIsRefusedNamingTheFile) {
  std::ofstream(cert_) << "not a certificate\n";
  auto server = Server::start(options());
  ASSERT_FALSE(server.is_ok());
  EXPECT_NE(server.status().message().find(cert_), std::string::npos)
      << server.status().message();
  EXPECT_EQ(server.status().message().find("not a certificate"), std::string::npos)
      << "the file's content must not be quoted";
}

TEST_F(TlsTest, AMissingKeyFileIsRefusedNamingIt) {
  ServerOptions o = options();
  o.tls.key = dir_.file("absent.pem");
  auto server = Server::start(o);
  ASSERT_FALSE(server.is_ok());
  EXPECT_NE(server.status().message().find(o.tls.key), std::string::npos);
}

}  // namespace
}  // namespace dlnest
