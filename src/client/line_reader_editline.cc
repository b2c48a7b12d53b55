// LineReader over libedit's readline-compatible API.
#include <editline/readline.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "client/line_reader.h"
#include "client/shell_commands.h"

namespace dlnest {

namespace {

constexpr int kHistoryLines = 1000;

/// The candidates of the completion in progress (libedit's generator protocol is stateful).
std::vector<std::string>& candidates() {
  static std::vector<std::string> words;
  return words;
}

char* next_candidate(const char*, int state) {
  static size_t next = 0;
  if (state == 0) next = 0;
  if (next >= candidates().size()) return nullptr;
  return ::strdup(candidates()[next++].c_str());
}

char** complete(const char* text, int start, int end) {
  rl_attempted_completion_over = 1;
  const Completion completion = complete_shell_word(
      std::string(rl_line_buffer, static_cast<size_t>(end)), static_cast<size_t>(start));
  switch (completion.kind) {
    case Completion::Kind::kPath:
      return rl_completion_matches(text, rl_filename_completion_function);
    case Completion::Kind::kWords:
      candidates() = completion.words;
      return rl_completion_matches(text, next_candidate);
    case Completion::Kind::kNone:
      break;
  }
  return nullptr;
}

class EditlineReader : public LineReader {
 public:
  explicit EditlineReader(std::string history_file) : history_file_(std::move(history_file)) {
    rl_readline_name = "dlnest";
    rl_attempted_completion_function = complete;
    if (!history_file_.empty()) read_history(history_file_.c_str());
  }

  std::optional<std::string> read_line(const std::string& prompt) override {
    char* raw = readline(prompt.c_str());
    if (raw == nullptr) return std::nullopt;
    std::string line(raw);
    std::free(raw);
    if (line.find_first_not_of(" \t") != std::string::npos) remember(line);
    return line;
  }

  bool interactive() const override { return true; }

 private:
  /// Adds to the history and saves it at once, so an interrupted shell keeps it too.
  void remember(const std::string& line) {
    add_history(line.c_str());
    if (history_file_.empty()) return;
    write_history(history_file_.c_str());
    history_truncate_file(history_file_.c_str(), kHistoryLines);
  }

  std::string history_file_;
};

}  // namespace

std::unique_ptr<LineReader> new_editline_reader(const std::string& history_file) {
  return std::make_unique<EditlineReader>(history_file);
}

}  // namespace dlnest
