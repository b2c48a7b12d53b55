#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "supervisor/regular_file.h"

namespace dlnest {

namespace {

Status open_error(const std::string& path, int error) {
  // O_NOFOLLOW: ELOOP for a link; O_NONBLOCK|O_WRONLY: ENXIO for a FIFO or socket without reader.
  if (error == ELOOP) return Status::failed_precondition(path + " is a symbolic link");
  if (error == ENXIO) return Status::failed_precondition(path + " is not a regular file");
  const std::string message = path + ": " + std::strerror(error);
  if (error == ENOENT || error == ENOTDIR) return Status::not_found(message);
  return Status::io_error(message);
}

}  // namespace

Result<UniqueFd> open_regular_file(const std::string& path, int flags) {
  // O_NOCTTY: a terminal put there must not become the server's controlling terminal.
  const int open_flags = flags | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC;
  UniqueFd fd(::open(path.c_str(), open_flags, 0644));
  if (!fd.valid()) return open_error(path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return open_error(path, errno);
  if (!S_ISREG(st.st_mode)) return Status::failed_precondition(path + " is not a regular file");
  const int status_flags = ::fcntl(fd.get(), F_GETFL);
  if (status_flags < 0 || ::fcntl(fd.get(), F_SETFL, status_flags & ~O_NONBLOCK) != 0) {
    return open_error(path, errno);
  }
  return fd;
}

}  // namespace dlnest
