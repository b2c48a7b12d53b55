// The shell's command language (the original DLNest syntax, docs/clients.md): one line into the
// HTTP request it stands for, or into an action of the shell itself. Pure: no I/O, so every
// command is tested without a server.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "client/api_client.h"
#include "dlnest/status.h"

namespace dlnest {

/// What the shell does with a parsed line.
enum class ShellAction {
  kNothing,      ///< a blank line (the shell only prints the watched task's new output)
  kRequest,      ///< send `request`; on success print `done`
  kSubmit,       ///< send `request`; on success print the new task's id and package
  kShowTasks,    ///< send `request`; print the reply's `info` as a task table
  kShowDevices,  ///< send `request`; print the reply's `info` as a device table
  kShowOutput,   ///< send `request`; print the new `text`, remember `next_offset` (`output_key`)
  kWatch,        ///< send `request` (the task's info); when it is an analysis task, watch it
  kWithdraw,     ///< stop watching
  kHelp,         ///< print help on `topic` (empty: every command)
  kExit,         ///< leave the shell
};

/// One parsed line.
struct ShellCommand {
  ShellAction action = ShellAction::kNothing;
  ApiRequest request;      ///< for the actions that talk to the server
  std::string task_id;     ///< kWatch: the task to watch
  std::string output_key;  ///< kShowOutput: whose offset the reply advances
  std::string done;        ///< kRequest: what to print on success, e.g. "deleted T_1"
  std::string topic;       ///< kHelp: a command name, or empty
};

/// What the shell remembers from one line to the next.
struct ShellContext {
  std::string cwd;           ///< relative paths in commands are made absolute against it
  std::string home;          ///< a leading "~" in a path expands to it; empty: no expansion
  std::string watched_task;  ///< the analysis task whose output follows every command
  /// Output key (see ShellCommand::output_key) -> the offset to ask for next, so that showDL,
  /// showAN, output and the watched task print only what is new.
  std::map<std::string, int64_t> offsets;
};

/// A word of a line with its quotes removed; `quoted` words are never read as flags.
struct ShellWord {
  std::string text;
  bool quoted = false;
};

/// Splits `line` into words like a POSIX shell: blanks separate words, "..." quotes with \" and
/// \\ escapes inside, '...' quotes literally, a backslash outside quotes escapes the next
/// character, and adjacent pieces join ("a"'b' is one word). An unterminated quote is an error.
Result<std::vector<ShellWord>> split_shell_words(const std::string& line);

/// Parses one line. Errors name the command and the flag or word at fault, and end with the
/// command's usage; an unknown command names itself.
Result<ShellCommand> parse_shell_command(const std::string& line, const ShellContext& context);

/// Records in `context` what `command` did once the server answered it with `reply` (success):
/// kWatch watches the task (an error when the reply says it is not an analysis task), kWithdraw
/// forgets it, kShowOutput stores the reply's `next_offset`.
Status apply_reply(const ShellCommand& command, const Json& reply, ShellContext& context);

/// The request for the watched task's new output, or nullopt when no task is watched.
std::optional<ShellCommand> watch_poll_command(const ShellContext& context);

/// Every command with its usage and summary, or one command's usage and flags. An unknown
/// `topic` is an error naming it.
Result<std::string> shell_help(const std::string& topic);

/// What the completion of one word may be.
struct Completion {
  enum class Kind { kNone, kWords, kPath };
  Kind kind = Kind::kNone;
  std::vector<std::string> words;  ///< kWords: the candidates starting with the word's prefix
};

/// The candidates for the word that starts at `start` in `line` (the text up to the cursor):
/// command names first, then the command's flags, and file paths after a flag that takes one.
Completion complete_shell_word(const std::string& line, size_t start);

}  // namespace dlnest
