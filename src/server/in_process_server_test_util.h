// For tests that start the server in their own process (Server::start) and talk to it over
// loopback.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "server/server.h"

namespace dlnest::testing {

/// Sets what every such test wants of `options`: any free port, quiet, its state in
/// `state_dir`, and one simulated GPU of 1000 MB, so that no real GPU is probed.
inline void use_test_defaults(ServerOptions* options, const std::string& state_dir) {
  options->port = 0;
  options->quiet = true;
  options->state_dir = state_dir;
  options->simulated_gpus = "sim:1000";
}

/// A raw TCP connection to 127.0.0.1:`port`; -1 when it cannot connect.
inline int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace dlnest::testing
