// A `dlnest server` child process for end-to-end tests of the server binary.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dlnest/config.h"
#include "dlnest/env.h"
#include "testing/temp_dir.h"

extern char** environ;

namespace dlnest::testing {

/// A TCP port on loopback that was free a moment ago.
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// `dlnest server` as a child process in its own process group.
class ServerProcess {
 public:
  ServerProcess(const std::string& state_dir, int port, const std::string& log_file) {
    const std::string bin = std::string(DLNEST_BIN_DIR) + "/dlnest";
    std::vector<std::string> args = {bin,      "--state-dir",        state_dir, "server",
                                     "--port", std::to_string(port), "--delay", "1"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    EXPECT_EQ(posix_spawn(&pid_, bin.c_str(), &actions, &attr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  ~ServerProcess() {
    if (pid_ > 0) kill_hard();
  }
  /// SIGKILL to the server (nothing when it has already stopped: kill(0) would hit the test).
  void kill_hard() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  int stop() {
    if (pid_ <= 0) return 0;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
    return status;
  }
  int pid() const { return pid_; }

 private:
  pid_t pid_ = 0;
};

/// A fixture with a `dlnest server` child process on a free port, its state in a temporary
/// folder, and an HTTP client of it.
class ServerBinaryTest : public ::testing::Test {
 protected:
  using Clock = std::chrono::steady_clock;

  /// Starts the server (on a new port, over the same state) and waits until it answers.
  void start_server() {
    port_ = free_port();
    server_ =
        std::make_unique<ServerProcess>(state_.file("state"), port_, state_.file("server.log"));
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_read_timeout(600, 0);
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
      if (client_->Get("/get_server_info")) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "the server did not come up: " << server_log();
  }

  std::string server_log() {
    auto text = Env::default_env()->read_file(state_.file("server.log"));
    return text.is_ok() ? *text : "";
  }

  /// The JSON reply of `method` `path`; an empty object when the request failed.
  Json call(const char* method, const std::string& path, const httplib::Params& params = {}) {
    auto res = std::string(method) == "GET" ? client_->Get(path.c_str(), params, httplib::Headers{})
                                            : client_->Post(path.c_str(), params);
    EXPECT_TRUE(res) << path;
    if (!res) return Json::object();
    return Json::parse(res->body);
  }

  /// The task info of `id`; an empty object when it cannot be had.
  Json task(const std::string& id) {
    const Json reply = call("GET", "/get_task", {{"task_ID", id}});
    return reply.contains("info") ? reply["info"] : Json::object();
  }

  /// Waits until task `id` is in `state` (or `timeout_s` passed); returns its info.
  Json wait_state(const std::string& id, const std::string& state, double timeout_s = 300) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
    Json info;
    while (Clock::now() < deadline) {
      info = task(id);
      if (info.value("status", "") == state) return info;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << id << " never became " << state << ": " << info.dump() << "\n" << server_log();
    return info;
  }

  TempDir state_;
  int port_ = 0;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace dlnest::testing
