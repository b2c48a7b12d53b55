#include "plugins/smtp_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "env/unique_fd.h"
#include "plugins/smtp_sink_test_util.h"

namespace dlnest {
namespace {

using testing::SmtpSink;

#define START_SINK_OR_SKIP(sink, ...)                                  \
  if (!(sink).start(__VA_ARGS__)) {                                    \
    GTEST_SKIP() << "no SMTP sink: python3-aiosmtpd is not installed " \
                    "(scripts/install_deps.sh installs it)";           \
  }

Mail a_mail() {
  Mail mail;
  mail.from = "me@example.com";
  mail.to = "me@example.com";
  mail.subject = "Train Finished!";
  mail.body = "Train task in /p finished\n.a line starting with a dot\n";
  return mail;
}

TEST(MailMessageTest, HasHeadersCrlfAndDoublesLeadingDots) {
  const std::string text = mail_message(a_mail());
  EXPECT_NE(text.find("From: DLNest Mail Plugin <me@example.com>\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("To: DLNest User <me@example.com>\r\n"), std::string::npos);
  EXPECT_NE(text.find("Subject: Train Finished!\r\n"), std::string::npos);
  EXPECT_NE(text.find("\r\n\r\nTrain task in /p finished\r\n..a line starting with a dot\r\n"),
            std::string::npos)
      << text;
  Mail utf8 = a_mail();
  utf8.subject = "训练完成";
  EXPECT_NE(mail_message(utf8).find("Subject: =?utf-8?b?6K6t57uD5a6M5oiQ?=\r\n"),
            std::string::npos);
}

TEST(SmtpClientTest, DeliversToARealServer) {
  SmtpSink sink;
  START_SINK_OR_SKIP(sink);
  MailServer server;
  server.host = "127.0.0.1";
  server.port = sink.port();
  ASSERT_TRUE(send_mail(server, a_mail()).is_ok());
  const std::vector<std::string> mails = sink.mails(1);
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_NE(mails[0].find("X-Envelope-To: me@example.com"), std::string::npos) << mails[0];
  EXPECT_NE(mails[0].find("Subject: Train Finished!"), std::string::npos);
  EXPECT_NE(mails[0].find("\n.a line starting with a dot"), std::string::npos) << mails[0];
}

TEST(SmtpClientTest, LogsInWithAuth) {
  SmtpSink sink;
  START_SINK_OR_SKIP(sink, "me@example.com", "secret");
  MailServer server;
  server.host = "127.0.0.1";
  server.port = sink.port();
  server.username = "me@example.com";
  server.password = "wrong";
  const Status refused = send_mail(server, a_mail());
  EXPECT_FALSE(refused.is_ok());
  EXPECT_NE(
      refused.message().find("smtp 127.0.0.1:" + std::to_string(sink.port()) + ": AUTH PLAIN: 535"),
      std::string::npos)
      << refused.message();
  EXPECT_EQ(refused.message().find("wrong"), std::string::npos) << "no password in errors";
  server.password = "secret";
  const Status sent = send_mail(server, a_mail());
  ASSERT_TRUE(sent.is_ok()) << sent.message();
  const std::vector<std::string> mails = sink.mails(1);
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_NE(mails[0].find("X-Login: me@example.com"), std::string::npos) << mails[0];
}

TEST(SmtpClientTest, WithoutAuthTheServerRefusesAndSaysSo) {
  SmtpSink sink;
  START_SINK_OR_SKIP(sink, "me@example.com", "secret");
  MailServer server;
  server.host = "127.0.0.1";
  server.port = sink.port();
  const Status refused = send_mail(server, a_mail());
  ASSERT_FALSE(refused.is_ok());
  EXPECT_NE(refused.message().find("MAIL FROM: 530"), std::string::npos) << refused.message();
}

TEST(SmtpClientTest, StartsTlsWhenOfferedAndChecksTheCertificate) {
  SmtpSink sink;
  if (!sink.start_tls()) GTEST_SKIP() << "no SMTP sink with TLS (python3-aiosmtpd, openssl)";
  MailServer server;
  server.host = "127.0.0.1";
  server.port = sink.port();
  const Status s = send_mail(server, a_mail());
  // A self-signed certificate: the upgrade is made and the certificate refused, so nothing
  // is sent in the clear after STARTTLS was offered.
  EXPECT_NE(
      s.message().find("smtp 127.0.0.1:" + std::to_string(sink.port()) + ": STARTTLS handshake: "),
      std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("certificate verify failed"), std::string::npos) << s.message();
  EXPECT_TRUE(sink.mails(0).empty());
}

TEST(SmtpClientTest, NoServerIsAClearError) {
  // A port nobody listens on: bind one, then close it.
  int port = 0;
  {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  MailServer server;
  server.host = "127.0.0.1";
  server.port = port;
  const Status s = send_mail(server, a_mail());
  EXPECT_EQ(s.message(),
            "smtp 127.0.0.1:" + std::to_string(port) + ": connect: Connection refused");
  server.host = "no-such-host.invalid";
  EXPECT_NE(
      send_mail(server, a_mail())
          .message()
          .find("smtp no-such-host.invalid:" + std::to_string(port) + ": cannot resolve host"),
      std::string::npos);
}

TEST(SmtpClientTest, ASilentServerTimesOut) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd.get(), 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  MailServer server;
  server.host = "127.0.0.1";
  server.port = ntohs(addr.sin_port);
  server.timeout_s = 0.3;
  const Status s = send_mail(server, a_mail());
  EXPECT_NE(s.message().find("no reply within"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace dlnest
