// Opening and reading a file that a request, a task or a save package names, so that it cannot
// wedge the server: a FIFO, a device or a directory put in its place is refused instead of
// blocking the caller, and a read is capped. Linux only.
#pragma once

#include <cstddef>
#include <string>

#include "dlnest/status.h"
#include "env/unique_fd.h"

namespace dlnest {

/// Whether a symbolic link in the last component of a path is followed or refused.
enum class SymlinkPolicy { kRefuse, kFollow };

/// Opens `path` with `flags` (O_RDONLY, or O_WRONLY with O_CREAT, O_APPEND, ...) without blocking,
/// and keeps it only when it is a regular file. A symbolic link in the last component is refused
/// unless `links` is kFollow (then the link's target must be a regular file). The descriptor
/// returned is close-on-exec and blocking again (O_NONBLOCK cleared). Errors name the file:
/// NotFound "<path>: No such file or directory" (no O_CREAT); FailedPrecondition "<path> is a
/// symbolic link" or "<path> is not a regular file"; IOError otherwise.
Result<UniqueFd> open_regular_file(const std::string& path, int flags,
                                   SymlinkPolicy links = SymlinkPolicy::kRefuse);

/// The most bytes of a configuration file or a save package's record (args.json, _package.json).
inline constexpr size_t kMaxConfigFileBytes = size_t{16} << 20;

/// Reads the whole regular file `path` (opened as open_regular_file does, O_RDONLY) when it has
/// at most `max_bytes` bytes; checked before anything is allocated, and a file that grows past
/// the cap while being read is refused too: FailedPrecondition "<path> is larger than N bytes".
Result<std::string> read_regular_file(const std::string& path, size_t max_bytes,
                                      SymlinkPolicy links);

/// The error read_regular_file returns for a file larger than `max_bytes`.
Status file_too_large(const std::string& path, size_t max_bytes);

}  // namespace dlnest
