// Reading a task's output file by byte offsets, for /get_task_output and /get_analyze_output.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "dlnest/status.h"

namespace dlnest {

struct OutputChunk {
  int64_t offset = 0;  ///< where `text` starts in the file
  std::string text;
  int64_t size = 0;  ///< the file's size when read
};

/// Up to `max_bytes` of `file` from `offset` (nullopt: the last `max_bytes`). An offset past the
/// end gives empty text at the end. The text never ends inside a UTF-8 sequence (the rest comes
/// with the next read) and, without an offset, never starts inside one. A missing file reads as
/// empty (the task has not written anything yet). Only a regular file is read: a FIFO or a
/// symbolic link put in its place (a crafted save package) is refused at once, FailedPrecondition
/// "<file> is not a regular file" or "<file> is a symbolic link", instead of blocking the caller.
Result<OutputChunk> read_output_file(const std::string& file, std::optional<int64_t> offset,
                                     size_t max_bytes);

}  // namespace dlnest
