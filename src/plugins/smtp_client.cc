#include "plugins/smtp_client.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <set>
#include <sstream>
#include <vector>

#include "env/unique_fd.h"

namespace dlnest {

namespace {

std::string base64(const std::string& in) {
  static const char kTable[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kTable[(n >> shift) & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t n = uint8_t(in[i]) << 16;
    out += std::string{kTable[(n >> 18) & 63], kTable[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += std::string{kTable[(n >> 18) & 63], kTable[(n >> 12) & 63], kTable[(n >> 6) & 63], '='};
  }
  return out;
}

/// A header value: as is when ASCII, else RFC 2047 base64 of its UTF-8.
std::string header_text(const std::string& text) {
  for (unsigned char c : text) {
    if (c >= 0x80 || c < 0x20) return "=?utf-8?b?" + base64(text) + "?=";
  }
  return text;
}

std::string rfc2822_date() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S +0000", &utc);
  return buffer;
}

/// One reply: its code and the text of its lines.
struct Reply {
  int code = 0;
  std::vector<std::string> lines;
  std::string text() const {
    return std::to_string(code) + " " + (lines.empty() ? "" : lines.back());
  }
};

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};

/// The connection to the server, plain or (after STARTTLS) TLS.
class Connection {
 public:
  explicit Connection(const MailServer& server) : server_(server) {}

  Status open() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int rc =
        ::getaddrinfo(server_.host.c_str(), std::to_string(server_.port).c_str(), &hints, &found);
    if (rc != 0) return error("cannot resolve host: " + std::string(gai_strerror(rc)));
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, &freeaddrinfo);
    int last_errno = 0;
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
      UniqueFd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
      if (!fd.valid()) continue;
      timeval tv{};
      tv.tv_sec = static_cast<time_t>(server_.timeout_s);
      tv.tv_usec = static_cast<suseconds_t>((server_.timeout_s - tv.tv_sec) * 1e6);
      ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds connect() too
      if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) == 0) {
        fd_ = std::move(fd);
        return Status::ok();
      }
      last_errno = errno;
    }
    return error("connect: " + std::string(std::strerror(last_errno)));
  }

  Status start_tls() {
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    if (!ctx_) return tls_error("cannot create a TLS context");
    SSL_CTX_set_default_verify_paths(ctx_.get());
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    ssl_.reset(SSL_new(ctx_.get()));
    if (!ssl_ || SSL_set_fd(ssl_.get(), fd_.get()) != 1) return tls_error("cannot start TLS");
    SSL_set_tlsext_host_name(ssl_.get(), server_.host.c_str());
    SSL_set1_host(ssl_.get(), server_.host.c_str());
    if (SSL_connect(ssl_.get()) != 1) return tls_error("STARTTLS handshake");
    return Status::ok();
  }

  Status send(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n =
          ssl_ ? SSL_write(ssl_.get(), data.data() + done, static_cast<int>(data.size() - done))
               : ::send(fd_.get(), data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) {
        if (!ssl_ && n < 0 && errno == EINTR) continue;
        return error("send: " + std::string(ssl_ ? "TLS write failed" : std::strerror(errno)));
      }
      done += static_cast<size_t>(n);
    }
    return Status::ok();
  }

  /// Sends `command` (without CRLF; "" sends nothing) and reads the reply; an error unless its
  /// code is one of `expected`. `shown` names the command in errors (passwords are not shown).
  Result<Reply> command(const std::string& command, std::set<int> expected,
                        const std::string& shown) {
    if (!command.empty()) DLNEST_RETURN_IF_ERROR(send(command + "\r\n"));
    Reply reply;
    for (;;) {
      DLNEST_ASSIGN_OR_RETURN(std::string line, read_line());
      if (line.size() < 3) return error(shown + ": malformed reply \"" + line + "\"");
      reply.code = std::atoi(line.substr(0, 3).c_str());
      reply.lines.push_back(line.size() > 4 ? line.substr(4) : "");
      if (line.size() == 3 || line[3] != '-') break;
    }
    if (expected.count(reply.code) == 0) return error(shown + ": " + reply.text());
    return reply;
  }

 private:
  Result<std::string> read_line() {
    for (;;) {
      const size_t end = buffer_.find("\r\n");
      if (end != std::string::npos) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        return line;
      }
      if (buffer_.size() > 64 * 1024) return error("reply line too long");
      char chunk[4096];
      const ssize_t n = ssl_ ? SSL_read(ssl_.get(), chunk, sizeof chunk)
                             : ::recv(fd_.get(), chunk, sizeof chunk, 0);
      if (n == 0) return error("the server closed the connection");
      if (n < 0) {
        if (!ssl_ && errno == EINTR) continue;
        const bool timeout = !ssl_ && (errno == EAGAIN || errno == EWOULDBLOCK);
        char seconds[32];
        std::snprintf(seconds, sizeof seconds, "%g", server_.timeout_s);
        return error(timeout ? "no reply within " + std::string(seconds) + " s"
                             : "receive: " +
                                   std::string(ssl_ ? "TLS read failed" : std::strerror(errno)));
      }
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  Status tls_error(const std::string& what) {
    const unsigned long code = ERR_get_error();
    char text[256] = "";
    if (code != 0) ERR_error_string_n(code, text, sizeof text);
    return error(what + (code != 0 ? ": " + std::string(text) : ""));
  }

  Status error(const std::string& what) const {
    return Status::io_error("smtp " + server_.host + ":" + std::to_string(server_.port) + ": " +
                            what);
  }

  const MailServer& server_;
  UniqueFd fd_;
  std::unique_ptr<SSL_CTX, SslFree> ctx_;
  std::unique_ptr<SSL, SslFree> ssl_;
  std::string buffer_;
};

/// The extensions of an EHLO reply, upper-case keywords with their parameters.
std::vector<std::string> extensions(const Reply& ehlo) {
  std::vector<std::string> out;
  for (size_t i = 1; i < ehlo.lines.size(); ++i) {
    std::string line = ehlo.lines[i];
    for (char& c : line) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    out.push_back(line);
  }
  return out;
}

bool offers(const std::vector<std::string>& ext, const std::string& keyword) {
  for (const std::string& line : ext) {
    if (line == keyword || line.rfind(keyword + " ", 0) == 0) return true;
  }
  return false;
}

bool offers_auth(const std::vector<std::string>& ext, const std::string& mechanism) {
  for (const std::string& line : ext) {
    if (line.rfind("AUTH ", 0) != 0 && line.rfind("AUTH=", 0) != 0) continue;
    std::istringstream words(line.substr(5));
    for (std::string word; words >> word;) {
      if (word == mechanism) return true;
    }
  }
  return false;
}

Result<std::vector<std::string>> hello(Connection& c) {
  char name[256] = "localhost";
  if (::gethostname(name, sizeof name) != 0 || name[0] == '\0') std::strcpy(name, "localhost");
  DLNEST_ASSIGN_OR_RETURN(Reply reply, c.command(std::string("EHLO ") + name, {250}, "EHLO"));
  return extensions(reply);
}

Status authenticate(Connection& c, const MailServer& server, const std::vector<std::string>& ext) {
  if (offers_auth(ext, "PLAIN")) {
    const std::string token =
        base64(std::string(1, '\0') + server.username + std::string(1, '\0') + server.password);
    return c.command("AUTH PLAIN " + token, {235}, "AUTH PLAIN").status();
  }
  if (offers_auth(ext, "LOGIN")) {
    DLNEST_RETURN_IF_ERROR(c.command("AUTH LOGIN", {334}, "AUTH LOGIN").status());
    DLNEST_RETURN_IF_ERROR(
        c.command(base64(server.username), {334}, "AUTH LOGIN (username)").status());
    return c.command(base64(server.password), {235}, "AUTH LOGIN (password)").status();
  }
  return Status::io_error(
      "smtp " + server.host + ":" + std::to_string(server.port) +
      ": a password is set but the server offers neither AUTH PLAIN nor AUTH LOGIN");
}

}  // namespace

std::string mail_message(const Mail& mail) {
  std::string out = "From: " + header_text(mail.from_name) + " <" + mail.from + ">\r\n" +
                    "To: " + header_text(mail.to_name) + " <" + mail.to + ">\r\n" +
                    "Subject: " + header_text(mail.subject) + "\r\n" + "Date: " + rfc2822_date() +
                    "\r\n" + "MIME-Version: 1.0\r\n" +
                    "Content-Type: text/plain; charset=utf-8\r\n" +
                    "Content-Transfer-Encoding: 8bit\r\n\r\n";
  std::istringstream lines(mail.body);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out += (line.rfind('.', 0) == 0 ? "." : "") + line + "\r\n";
  }
  return out;
}

Status send_mail(const MailServer& server, const Mail& mail) {
  Connection c(server);
  DLNEST_RETURN_IF_ERROR(c.open());
  DLNEST_RETURN_IF_ERROR(c.command("", {220}, "greeting").status());
  DLNEST_ASSIGN_OR_RETURN(std::vector<std::string> ext, hello(c));
  if (offers(ext, "STARTTLS")) {
    DLNEST_RETURN_IF_ERROR(c.command("STARTTLS", {220}, "STARTTLS").status());
    DLNEST_RETURN_IF_ERROR(c.start_tls());
    DLNEST_ASSIGN_OR_RETURN(ext, hello(c));
  }
  if (!server.password.empty()) DLNEST_RETURN_IF_ERROR(authenticate(c, server, ext));
  DLNEST_RETURN_IF_ERROR(c.command("MAIL FROM:<" + mail.from + ">", {250}, "MAIL FROM").status());
  DLNEST_RETURN_IF_ERROR(c.command("RCPT TO:<" + mail.to + ">", {250, 251}, "RCPT TO").status());
  DLNEST_RETURN_IF_ERROR(c.command("DATA", {354}, "DATA").status());
  DLNEST_RETURN_IF_ERROR(c.command(mail_message(mail) + ".", {250}, "end of DATA").status());
  (void)c.command("QUIT", {221}, "QUIT");
  return Status::ok();
}

}  // namespace dlnest
