// The server's transport: plain HTTP on loopback, or TLS (cpp-httplib's SSLServer over OpenSSL)
// from a certificate and key the owner gives. docs/security.md says when each is required.
#pragma once

#include <memory>
#include <string>

#include "dlnest/status.h"

namespace httplib {
class Server;
}

namespace dlnest {

/// The PEM files of a server with TLS (`--tls-cert`, `--tls-key`); both empty: plain HTTP.
struct TlsFiles {
  std::string cert;  ///< the certificate chain, server certificate first
  std::string key;   ///< its private key, unencrypted; readable by its owner only

  bool enabled() const { return !cert.empty() || !key.empty(); }
};

/// Refuses a secret file (the token, a TLS private key) that others than its owner may read or
/// write, naming the file and how to fix it; a missing file is fine (the caller reports it).
Status check_owner_only(const std::string& file, const std::string& what);

/// cpp-httplib's server for `tls`: an SSLServer loaded with the certificate and key, or a plain
/// server when `tls` is not enabled. Errors name the file at fault: one of the two given without
/// the other, a file that is missing or not a regular file, a key others may read, or PEM that
/// OpenSSL does not accept (with its reason).
Result<std::unique_ptr<httplib::Server>> make_http_server(const TlsFiles& tls);

}  // namespace dlnest
