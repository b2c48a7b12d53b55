#include "server/http_transport.h"

#include <httplib.h>
#include <openssl/err.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace dlnest {
namespace {

/// OK when `file` is a regular file; otherwise an error saying what it is instead.
Status check_regular(const std::string& file, const std::string& what) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    return Status::invalid_argument(what + " " + file + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::invalid_argument(what + " " + file + " is not a regular file");
  }
  return Status::ok();
}

/// The reason OpenSSL gave for its last failure, or a general one.
std::string openssl_reason() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "not a PEM certificate and matching private key";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

}  // namespace

Status check_owner_only(const std::string& file, const std::string& what) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    return errno == ENOENT ? Status::ok()
                           : Status::io_error("cannot stat " + file + ": " + std::strerror(errno));
  }
  if ((st.st_mode & 077) == 0) return Status::ok();
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 0777));
  return Status::failed_precondition(what + " " + file + " is readable by others (mode " + mode +
                                     "); run 'chmod 600 " + file + "' (docs/security.md)");
}

Result<std::unique_ptr<httplib::Server>> make_http_server(const TlsFiles& tls) {
  if (!tls.enabled()) return std::make_unique<httplib::Server>();
  if (tls.cert.empty() || tls.key.empty()) {
    return Status::invalid_argument(
        "TLS needs both --tls-cert and --tls-key (PEM files); only --tls-" +
        std::string(tls.cert.empty() ? "key" : "cert") + " was given");
  }
  DLNEST_RETURN_IF_ERROR(check_regular(tls.cert, "TLS certificate"));
  DLNEST_RETURN_IF_ERROR(check_regular(tls.key, "TLS private key"));
  DLNEST_RETURN_IF_ERROR(check_owner_only(tls.key, "TLS private key"));
  ERR_clear_error();
  auto server = std::make_unique<httplib::SSLServer>(tls.cert.c_str(), tls.key.c_str());
  if (!server->is_valid()) {
    return Status::invalid_argument("cannot use TLS certificate " + tls.cert + " with key " +
                                    tls.key + ": " + openssl_reason());
  }
  return std::unique_ptr<httplib::Server>(std::move(server));
}

}  // namespace dlnest
