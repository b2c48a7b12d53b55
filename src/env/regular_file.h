// Opening a file that a task or a save package controls (its output, its exit file) so that it
// cannot wedge the server: a FIFO, a device or a symbolic link put in its place is refused
// instead of blocking the caller or writing elsewhere. Linux only.
#pragma once

#include <string>

#include "dlnest/status.h"
#include "supervisor/unique_fd.h"

namespace dlnest {

/// Opens `path` with `flags` (O_RDONLY, or O_WRONLY with O_CREAT, O_APPEND, ...) without
/// following a symbolic link in its last component and without blocking, and keeps it only when
/// it is a regular file. The descriptor returned is close-on-exec and blocking again (O_NONBLOCK
/// cleared). Errors name the file: NotFound "<path>: No such file or directory" (no O_CREAT);
/// FailedPrecondition "<path> is a symbolic link" or "<path> is not a regular file"; IOError
/// otherwise.
Result<UniqueFd> open_regular_file(const std::string& path, int flags);

}  // namespace dlnest
