// A real SMTP server for tests (testdata/smtp_sink.py on Debian's python3-aiosmtpd), started as a
// child process and killed when the object goes. Tests skip when aiosmtpd is missing.
#pragma once

#include <dirent.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "dlnest/env.h"
#include "env/path.h"
#include "testing/temp_dir.h"

extern char** environ;

namespace dlnest::testing {

class SmtpSink {
 public:
  /// The Python that has aiosmtpd ("" when none has): Debian's, else the one on PATH.
  static std::string python() {
    for (const char* candidate : {"/usr/bin/python3", "python3"}) {
      const std::string probe = std::string(candidate) + " -c 'import aiosmtpd' >/dev/null 2>&1";
      if (std::system(probe.c_str()) == 0) return candidate;
    }
    return "";
  }

  /// Starts the sink; false when aiosmtpd is missing or it does not come up within 20 s.
  bool start(const std::string& user = "", const std::string& password = "") {
    return start_with({user.empty()
                           ? std::vector<std::string>{}
                           : std::vector<std::string>{"--user", user, "--password", password}});
  }

  /// Starts the sink offering STARTTLS with a new self-signed certificate for "localhost";
  /// false when aiosmtpd or the openssl command is missing.
  bool start_tls() {
    const std::string make_cert =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout " +
        dir_.file("key.pem") + " -out " + dir_.file("cert.pem") + " >/dev/null 2>&1";
    if (std::system(make_cert.c_str()) != 0) return false;
    return start_with({"--tls", dir_.file("cert.pem"), dir_.file("key.pem")});
  }

 private:
  bool start_with(const std::vector<std::string>& options) {
    const std::string py = python();
    if (py.empty()) return false;
    std::vector<std::string> argv = {py, SMTP_SINK_PY, dir_.path(), port_file()};
    argv.insert(argv.end(), options.begin(), options.end());
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    if (::posix_spawnp(&pid_, args[0], nullptr, nullptr, args.data(), environ) != 0) return false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      auto text = Env::default_env()->read_file(port_file());
      if (text.is_ok() && !text->empty()) {
        port_ = std::atoi(text->c_str());
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

 public:
  ~SmtpSink() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  int port() const { return port_; }

  /// The mails received so far, oldest first, waiting up to `wait_for` until there are `n`.
  std::vector<std::string> mails(size_t n = 0,
                                 std::chrono::seconds wait_for = std::chrono::seconds(10)) const {
    const auto deadline = std::chrono::steady_clock::now() + wait_for;
    for (;;) {
      std::vector<std::string> out;
      for (size_t i = 1;; ++i) {
        auto text = Env::default_env()->read_file(dir_.file("mail-" + std::to_string(i) + ".eml"));
        if (!text.is_ok()) break;
        out.push_back(*text);
      }
      if (out.size() >= n || std::chrono::steady_clock::now() >= deadline) return out;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

 private:
  std::string port_file() const { return dir_.file("port"); }

  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace dlnest::testing
