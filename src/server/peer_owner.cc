#include "server/peer_owner.h"

#include <arpa/inet.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace dlnest {
namespace {

/// The kernel prints each 32-bit word of the address as it lies in memory, with %08X.
std::string hex_words(const void* address, size_t bytes) {
  std::string out;
  for (size_t i = 0; i < bytes; i += 4) {
    uint32_t word = 0;
    std::memcpy(&word, static_cast<const char*>(address) + i, 4);
    char buf[9];
    std::snprintf(buf, sizeof buf, "%08X", word);
    out += buf;
  }
  return out;
}

std::string port_hex(int port) {
  char buf[5];
  std::snprintf(buf, sizeof buf, "%04X", static_cast<unsigned>(port) & 0xffffu);
  return buf;
}

std::string read_all(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string proc_net_address(const std::string& ip, int port) {
  in_addr v4{};
  if (::inet_pton(AF_INET, ip.c_str(), &v4) == 1) return hex_words(&v4, 4) + ":" + port_hex(port);
  in6_addr v6{};
  if (::inet_pton(AF_INET6, ip.c_str(), &v6) == 1) {
    return hex_words(&v6, 16) + ":" + port_hex(port);
  }
  return "";
}

std::optional<uid_t> socket_owner_in(const std::string& proc_net_tcp, const std::string& local,
                                     int remote_port) {
  std::istringstream lines(proc_net_tcp);
  std::string line;
  std::getline(lines, line);  // the header
  const std::string remote_suffix = ":" + port_hex(remote_port);
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string slot, local_field, remote_field, state, queues, timer, retransmits;
    unsigned long uid = 0;
    if (!(fields >> slot >> local_field >> remote_field >> state >> queues >> timer >>
          retransmits >> uid)) {
      continue;
    }
    const bool remote_matches = remote_field.size() > remote_suffix.size() &&
                                remote_field.compare(remote_field.size() - remote_suffix.size(),
                                                     remote_suffix.size(), remote_suffix) == 0;
    if (local_field == local && remote_matches) return static_cast<uid_t>(uid);
  }
  return std::nullopt;
}

std::optional<uid_t> loopback_peer_uid(const std::string& peer_ip, int peer_port, int server_port) {
  const std::string local = proc_net_address(peer_ip, peer_port);
  if (local.empty()) return std::nullopt;
  const bool v6 = peer_ip.find(':') != std::string::npos;
  return socket_owner_in(read_all(v6 ? "/proc/net/tcp6" : "/proc/net/tcp"), local, server_port);
}

}  // namespace dlnest
