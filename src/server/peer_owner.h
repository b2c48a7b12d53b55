// Who is on the other end of a loopback TCP connection: the user owning the peer's socket, as the
// kernel lists it in /proc/net/tcp (SO_PEERCRED does not apply to TCP). The server serves such a
// request without its token only when that user is the server's own (docs/security.md).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace dlnest {

/// A socket address as /proc/net/tcp{,6} prints it ("0100007F:1F90"); "" for an address that is
/// not a numeric IPv4 or IPv6 one.
std::string proc_net_address(const std::string& ip, int port);

/// The uid owning the socket whose local address is `local` (as proc_net_address writes it) and
/// whose remote port is `remote_port`, in the text of /proc/net/tcp or tcp6; nullopt when no
/// line matches.
std::optional<uid_t> socket_owner_in(const std::string& proc_net_tcp, const std::string& local,
                                     int remote_port);

/// The uid of the process side of a loopback connection from `peer_ip`:`peer_port` to our
/// `server_port`; nullopt when it cannot be told (then the request is treated as another user's).
std::optional<uid_t> loopback_peer_uid(const std::string& peer_ip, int peer_port, int server_port);

}  // namespace dlnest
