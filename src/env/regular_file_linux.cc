#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "env/regular_file.h"

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

/// Appends what is left of `fd` to `data`; more than `max_bytes` in all is an error.
Status read_rest(int fd, const std::string& path, size_t max_bytes, std::string& data) {
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return open_error(path, errno);
    if (n == 0) return Status::ok();
    if (static_cast<size_t>(n) > max_bytes - data.size()) return file_too_large(path, max_bytes);
    data.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

Result<UniqueFd> open_regular_file(const std::string& path, int flags, SymlinkPolicy links) {
  // O_NOCTTY: a terminal put there must not become the server's controlling terminal.
  int open_flags = flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  if (links == SymlinkPolicy::kRefuse) open_flags |= O_NOFOLLOW;
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

Result<std::string> read_regular_file(const std::string& path, size_t max_bytes,
                                      SymlinkPolicy links) {
  DLNEST_ASSIGN_OR_RETURN(UniqueFd fd, open_regular_file(path, O_RDONLY, links));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return open_error(path, errno);
  if (st.st_size < 0 || static_cast<unsigned long long>(st.st_size) > max_bytes) {
    return file_too_large(path, max_bytes);
  }
  std::string data;
  data.reserve(static_cast<size_t>(st.st_size));
  DLNEST_RETURN_IF_ERROR(read_rest(fd.get(), path, max_bytes, data));
  return data;
}

Status file_too_large(const std::string& path, size_t max_bytes) {
  return Status::failed_precondition(path + " is larger than " + std::to_string(max_bytes) +
                                     " bytes");
}

}  // namespace dlnest
