// The command channel of an analysis task: the worker listens on a Unix socket in the server's
// state dir, and the server sends it one command per connection ("getAcc\n") and reads one reply
// line ("ok" or "error: <message>"). A socket file outlives a server restart, so an adopted
// analyzer stays reachable. Commands sent before the analyzer listens wait in a spool file beside
// the socket (`<socket>.queue`, one command a line), which the analyzer reads once it listens:
// no command is lost and the order is kept.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dlnest/status.h"

namespace dlnest {

/// Sends `command` to the analyzer listening on `socket_path` and returns when it has accepted
/// it (the script then runs after those queued before it; its output goes to the task's
/// output). The analyzer's refusal comes back as an error with its message. When nothing listens
/// there yet (the task is queued or still loading), a command that is a plain script name is
/// put in the spool and the answer is ok.
Status send_analyzer_command(const std::string& socket_path, const std::string& command,
                             int timeout_ms = 5000);

/// The spool of commands sent to `socket_path` before anything listened there.
std::string command_spool_path(const std::string& socket_path);

/// Takes (and empties) the commands waiting in `spool`, oldest first; none when it is missing.
Result<std::vector<std::string>> take_spooled_commands(const std::string& spool);

/// Refuses a script name that is not a plain file name: letters, digits, '_', '-', '.', not
/// starting with a dot, no "..", at most 200 characters; ".cpp" may end it.
Status check_script_name(const std::string& name, const std::string& scripts_dir);

/// The file name a script name stands for: "getAcc" and "getAcc.cpp" are "getAcc.cpp".
std::string script_file_name(const std::string& name);

/// The line an analyzer prints when it has run (or failed to run) a script: "<prefix><file>
/// finished" or "<prefix><file> failed", file as script_file_name(). `dlnest exp` waits for it.
std::string script_end_line(const std::string& name, bool ok);

/// The prefix of the analyzer's own lines in the task's output.
inline constexpr const char* kAnalyzerPrefix = "[DLNest Analyze Process] ";

/// The analyzer's side: a listening socket at `socket_path` (an old file there is replaced).
class CommandListener {
 public:
  static Result<CommandListener> listen(const std::string& socket_path);
  CommandListener(CommandListener&& other) noexcept;
  CommandListener& operator=(CommandListener&&) = delete;
  ~CommandListener();

  /// Waits for the next command, at most `timeout_ms` (-1: forever; nullopt when none came);
  /// the connection stays open for reply().
  Result<std::optional<std::string>> next(int timeout_ms = -1);
  /// The spool this listener's senders fall back to.
  std::string spool() const { return command_spool_path(path_); }
  /// Answers the command next() returned: ok, or the error's message.
  void reply(const Status& status);

 private:
  CommandListener(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  int client_ = -1;
  std::string path_;
};

}  // namespace dlnest
