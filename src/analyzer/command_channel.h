// The command channel of an analysis task: the worker listens on a Unix socket in the server's
// state dir, and the server sends it one command per connection ("getAcc\n") and reads one reply
// line ("ok" or "error: <message>"). A socket file outlives a server restart, so an adopted
// analyzer stays reachable.
#pragma once

#include <string>

#include "dlnest/status.h"

namespace dlnest {

/// Sends `command` to the analyzer listening on `socket_path` and returns when it has accepted
/// it (the script then runs; its output goes to the task's output). The analyzer's refusal
/// comes back as an error with its message.
Status send_analyzer_command(const std::string& socket_path, const std::string& command,
                             int timeout_ms = 5000);

/// The analyzer's side: a listening socket at `socket_path` (an old file there is replaced).
class CommandListener {
 public:
  static Result<CommandListener> listen(const std::string& socket_path);
  CommandListener(CommandListener&& other) noexcept;
  CommandListener& operator=(CommandListener&&) = delete;
  ~CommandListener();

  /// Waits for the next command; the connection stays open for reply().
  Result<std::string> next();
  /// Answers the command next() returned: ok, or the error's message.
  void reply(const Status& status);

 private:
  CommandListener(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  int client_ = -1;
  std::string path_;
};

}  // namespace dlnest
