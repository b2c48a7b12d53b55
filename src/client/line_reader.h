// Where the shell's lines come from: a terminal with line editing (libedit), or any stream.
#pragma once

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

namespace dlnest {

/// Reads one command line at a time.
class LineReader {
 public:
  virtual ~LineReader() = default;
  /// The next line without its newline, or nullopt at the end of the input.
  virtual std::optional<std::string> read_line(const std::string& prompt) = 0;
  /// Whether a person is typing (prompts and greetings are printed only then).
  virtual bool interactive() const = 0;
};

/// Plain lines from `in`; no prompt.
std::unique_ptr<LineReader> new_stream_reader(std::istream& in);

/// The terminal through libedit: line editing, tab completion of the shell's commands, flags and
/// paths (complete_shell_word), and a history kept in `history_file` (empty: none). Only one may
/// exist at a time (libedit's state is global).
std::unique_ptr<LineReader> new_editline_reader(const std::string& history_file);

}  // namespace dlnest
