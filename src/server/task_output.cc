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

Result<std::string> read_at(int fd, const std::string& file, int64_t start, size_t want) {
  std::string text(want, '\0');
  size_t got = 0;
  while (got < want) {
    const ssize_t n = ::pread(fd, &text[got], want - got, start + static_cast<int64_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::io_error("cannot read " + file + ": " + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  return text;
}

/// Drops the start of a chunk read from the tail up to a line start (or, with no newline in it,
/// past a broken UTF-8 sequence); `has_before`: its first byte is the one before the chunk.
/// Returns how many bytes of the chunk proper were dropped.
size_t skip_to_line_start(std::string& text, bool has_before) {
  if (has_before) {
    const bool at_line_start = !text.empty() && text[0] == '\n';
    text.erase(0, 1);
    if (at_line_start) return 0;
    const size_t newline = text.find('\n');
    if (newline != std::string::npos && newline + 1 < text.size()) {
      text.erase(0, newline + 1);
      return newline + 1;
    }
  }
  size_t skip = 0;
  while (skip < text.size() && skip < 3 && is_continuation(text[skip])) ++skip;
  text.erase(0, skip);
  return skip;
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
  // From the tail, the byte before the chunk too: it tells whether the chunk starts a line.
  const int64_t before = from_tail && start > 0 ? 1 : 0;
  const size_t want = static_cast<size_t>(
      std::min<int64_t>(static_cast<int64_t>(max_bytes), chunk.size - start) + before);
  DLNEST_ASSIGN_OR_RETURN(chunk.text, read_at(fd.get(), file, start - before, want));
  if (from_tail) start += static_cast<int64_t>(skip_to_line_start(chunk.text, before == 1));
  // Keep an incomplete last character for the next read, unless it is all there is.
  const size_t tail = incomplete_tail(chunk.text);
  if (tail < chunk.text.size()) chunk.text.resize(chunk.text.size() - tail);
  chunk.offset = start;
  return chunk;
}

std::vector<std::pair<std::string, std::string>> styled_lines(const std::string& text,
                                                              const std::string& prefix_style,
                                                              const std::string& plain_style) {
  std::vector<std::pair<std::string, std::string>> pieces;
  size_t begin = 0;
  while (begin < text.size()) {
    const size_t newline = text.find('\n', begin);
    const size_t end = newline == std::string::npos ? text.size() : newline;
    std::string line = text.substr(begin, end - begin);
    const size_t prefix_end = line.rfind('[', 0) == 0 ? line.find("] ") : std::string::npos;
    if (prefix_end != std::string::npos) {
      pieces.emplace_back(prefix_style, line.substr(0, prefix_end + 2));
      line.erase(0, prefix_end + 2);
    }
    if (!line.empty() || prefix_end == std::string::npos) pieces.emplace_back(plain_style, line);
    if (newline == std::string::npos) break;
    pieces.emplace_back(plain_style, "\n");
    begin = newline + 1;
  }
  return pieces;
}

}  // namespace dlnest
