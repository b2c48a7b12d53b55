// Reading a task's output file by byte offsets, for /get_task_output and /get_analyze_output.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dlnest/status.h"

namespace dlnest {

struct OutputChunk {
  int64_t offset = 0;  ///< where `text` starts in the file
  std::string text;
  int64_t size = 0;  ///< the file's size when read
};

/// Up to `max_bytes` of `file` from `offset` (nullopt: the last `max_bytes`). An offset past the
/// end gives empty text at the end. The text never ends inside a UTF-8 sequence (the rest comes
/// with the next read). Without an offset it starts at a line start (after the first newline of
/// the last `max_bytes`, when the byte before them is not one), or inside no UTF-8 sequence when
/// those bytes hold no newline: a client showing the latest output sees whole lines. A missing file
/// reads as empty (the task has not written anything yet). Only a regular file is read: a FIFO or a
/// symbolic link put in its place (a crafted save package) is refused at once, FailedPrecondition
/// "<file> is not a regular file" or "<file> is a symbolic link", instead of blocking the caller.
Result<OutputChunk> read_output_file(const std::string& file, std::optional<int64_t> offset,
                                     size_t max_bytes);

/// `text` as [style, text] pieces the way the original clients draw them: each line's text, then
/// a piece "\n" of its own (the original full-screen client ends a line at a piece holding a
/// newline). A "[...] " prefix at a line start (`[DLNest Analyze Process] `) gets `prefix_style`,
/// the rest `plain_style`; a last line without a newline is one piece.
std::vector<std::pair<std::string, std::string>> styled_lines(const std::string& text,
                                                              const std::string& prefix_style,
                                                              const std::string& plain_style);

}  // namespace dlnest
