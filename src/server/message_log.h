// MessageLog: a bounded text buffer addressed by byte offsets since it began, so that clients
// polling with an offset get every piece of text once: never twice, and a gap they can see
// (instead of silently skipped text) when the buffer dropped what they had not read yet.
#pragma once

#include <cstdint>
#include <ctime>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "dlnest/config.h"  // Json

namespace dlnest {

/// What a read returns: `text` starts at byte `offset`; the next read starts at `next_offset`.
struct LogSlice {
  int64_t offset = 0;
  int64_t next_offset = 0;
  std::string text;
  /// The same text as (style, text) pieces, for `styled=True` replies.
  std::vector<std::pair<std::string, std::string>> styled;
};

/// Thread-safe. Messages are appended as a styled prefix ("[Run train] ") and a plain body.
class MessageLog {
 public:
  /// Keeps at most `capacity` bytes; older messages are dropped whole.
  explicit MessageLog(size_t capacity = 1 << 20) : capacity_(capacity) {}

  /// Also passes every appended text to `echo` (e.g. the server's stderr); a message of add()
  /// as one line that starts with the local time ("2026-12-02 06:30:01 [Run train] ...").
  void set_echo(std::function<void(const std::string&)> echo) {
    std::lock_guard<std::mutex> lock(mu_);
    echo_ = std::move(echo);
  }

  /// Appends "<prefix><body>\n"; the prefix gets `prefix_style`, the body the plain style.
  void add(const std::string& prefix, const std::string& body,
           const std::string& prefix_style = kPrefixStyle);
  /// Appends raw text with the plain style (e.g. output read from a process).
  void append_raw(const std::string& text);
  /// The text from `offset` on (at most `max_bytes`, cut at a piece boundary when possible).
  LogSlice read(int64_t offset, size_t max_bytes = SIZE_MAX) const;
  /// Drops everything; offsets go on from where they were.
  void clear();
  /// The offset just past the last byte appended.
  int64_t end_offset() const;

  static constexpr const char* kPrefixStyle = "#ff0f9f bold";
  static constexpr const char* kPlainStyle = "#efefef";

 private:
  struct Piece {
    int64_t offset;
    std::string style;
    std::string text;
  };
  void push_locked(std::string style, std::string text);

  mutable std::mutex mu_;
  size_t capacity_;
  std::function<void(const std::string&)> echo_;
  std::deque<Piece> pieces_;  // guarded by mu_
  size_t size_ = 0;           // bytes held
  int64_t end_ = 0;           // offset past the last piece
};

/// `when` as local time, "YYYY-MM-DD HH:MM:SS".
std::string local_time_stamp(std::time_t when);

/// The slice as a reply's fields: `offset`, `next_offset` and `text` (plain string, or the list
/// of [style, text] pairs when `styled`; an empty styled text is [["",""]] like the original).
Json log_slice_to_json(const LogSlice& slice, bool styled);

}  // namespace dlnest
