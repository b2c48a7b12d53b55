// The interactive DLNest shell (`dlnest shell`, and `dlnest local` with an in-process server):
// reads commands in the original syntax (client/shell_commands.h), sends them through an
// ApiClient and prints the answers as tables and output text.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>

#include "client/api_client.h"

namespace dlnest {

/// How run_shell() reads, prints and remembers.
struct ShellOptions {
  /// Line-editing history is kept in `<state_dir>/shell_history`; empty: no history file.
  std::string state_dir;
  /// Relative paths in commands are made absolute against it; empty: the current folder.
  std::string cwd;
  /// Where commands come from; nullptr: stdin, with line editing, history and tab completion when
  /// it is a terminal, plain lines otherwise (so that commands can be piped in).
  std::istream* input = nullptr;
  std::ostream* output = nullptr;  ///< nullptr: stdout
  std::ostream* errors = nullptr;  ///< nullptr: stderr
  std::string prompt = "DLNest>> ";
  /// Unix seconds now, for the ELAPSED column; empty: the system clock.
  std::function<double()> clock;

  /// A terminal shell keeping its history in the state dir `client` names (or the default one).
  static ShellOptions for_client(const ClientOptions& client);
};

/// Runs the shell until `exit` or the end of the input. Returns 0, or 1 when the input was not
/// a terminal and a command failed (so a piped script reports its errors).
int run_shell(ApiClient& client, const ShellOptions& options);

}  // namespace dlnest
