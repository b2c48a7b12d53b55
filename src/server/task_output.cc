#include "server/task_output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "env/regular_file.h"

namespace dlnest {
namespace {

bool is_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

/// How many bytes at the end of `text` form an incomplete UTF-8 sequence.
size_t incomplete_tail(const std::string& text) {
  const size_t n = text.size();
  for (size_t back = 1; back <= std::min<size_t>(4, n); ++back) {
    const unsigned char c = static_cast<unsigned char>(text[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: look further back
    size_t need = 1;
    if ((c & 0xE0) == 0xC0) {
      need = 2;
    } else if ((c & 0xF0) == 0xE0) {
      need = 3;
    } else if ((c & 0xF8) == 0xF0) {
      need = 4;
    }
    return need > back ? back : 0;
  }
  return 0;
}

}  // namespace

Result<OutputChunk> read_output_file(const std::string& file, std::optional<int64_t> offset,
                                     size_t max_bytes) {
  OutputChunk chunk;
  Result<UniqueFd> opened = open_regular_file(file, O_RDONLY);
  if (!opened.is_ok()) {
    const Status& status = opened.status();
    if (status.code() == Status::Code::kNotFound) return chunk;
    if (status.code() == Status::Code::kIOError) {
      return Status::io_error("cannot read " + status.message());
    }
    return status;
  }
  const UniqueFd fd = std::move(opened).value();
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return Status::io_error("cannot stat " + file + ": " + std::strerror(errno));
  }
  chunk.size = st.st_size;
  const bool from_tail = !offset.has_value();
  int64_t start = from_tail ? std::max<int64_t>(0, chunk.size - static_cast<int64_t>(max_bytes))
                            : std::min(*offset, chunk.size);
  const size_t want =
      static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(max_bytes), chunk.size - start));
  chunk.text.resize(want);
  size_t got = 0;
  while (got < want) {
    const ssize_t n =
        ::pread(fd.get(), &chunk.text[got], want - got, start + static_cast<int64_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  chunk.text.resize(got);
  if (from_tail) {
    size_t skip = 0;
    while (skip < chunk.text.size() && skip < 3 && is_continuation(chunk.text[skip])) ++skip;
    chunk.text.erase(0, skip);
    start += static_cast<int64_t>(skip);
  }
  // Keep an incomplete last character for the next read, unless it is all there is.
  const size_t tail = incomplete_tail(chunk.text);
  if (tail < chunk.text.size()) chunk.text.resize(chunk.text.size() - tail);
  chunk.offset = start;
  return chunk;
}

}  // namespace dlnest
