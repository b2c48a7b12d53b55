// The real Env: POSIX files, every descriptor opened close-on-exec.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "dlnest/env.h"
#include "env/path.h"
#include "env/regular_file.h"

namespace dlnest {

namespace {

Status posix_error(const std::string& context, int err) {
  std::string msg = context + ": " + std::strerror(err);
  if (err == ENOENT) return Status::not_found(msg);
  return Status::io_error(msg);
}

/// The absolute path of `path` with every symbolic link resolved (realpath(3)).
Result<std::string> real_path(const std::string& path) {
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (resolved == nullptr) return posix_error(path, errno);
  std::string out(resolved);
  ::free(resolved);
  return out;
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status append(std::string_view data) override {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return posix_error("cannot write " + path_, errno);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::ok();
  }

  Status sync() override {
    if (::fdatasync(fd_) != 0) return posix_error("cannot fsync " + path_, errno);
    return Status::ok();
  }

  Status close() override {
    if (fd_ < 0) return Status::ok();
    const int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return posix_error("cannot close " + path_, errno);
    return Status::ok();
  }

 private:
  std::string path_;
  int fd_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> new_writable_file(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return posix_error("cannot create " + path, errno);
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd));
  }

  Result<std::string> read_file(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return posix_error("cannot open " + path, errno);
    std::string data;
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int err = errno;
        ::close(fd);
        return posix_error("cannot read " + path, err);
      }
      if (n == 0) break;
      data.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return data;
  }

  Result<std::string> read_bounded_file(const std::string& path, size_t max_bytes,
                                        const std::string& within) override {
    if (within.empty()) return read_regular_file(path, max_bytes, SymlinkPolicy::kFollow);
    DLNEST_ASSIGN_OR_RETURN(std::string real, real_path(path));
    DLNEST_ASSIGN_OR_RETURN(std::string root, real_path(within));
    if (real != root && real.compare(0, root.size() + 1, root + "/") != 0) {
      return Status::failed_precondition(path + " leads out of " + within + " (to " + real + ")");
    }
    // The real path has no link left to follow; one put there since is refused.
    return read_regular_file(real, max_bytes, SymlinkPolicy::kRefuse);
  }

  bool file_exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  bool is_directory(const std::string& path) override {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }

  Result<std::vector<std::string>> list_dir(const std::string& path) override {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return posix_error("cannot list " + path, errno);
    std::vector<std::string> names;
    while (const dirent* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    return names;
  }

  Status create_dirs(const std::string& path) override {
    if (path.empty() || is_directory(path)) return Status::ok();
    const std::string up = path::parent(path);
    if (up != path) DLNEST_RETURN_IF_ERROR(create_dirs(up));
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
      return posix_error("cannot create directory " + path, errno);
    }
    return Status::ok();
  }

  Status create_dir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0755) == 0) return Status::ok();
    if (errno == EEXIST) return Status::already_exists(path + " already exists");
    return posix_error("cannot create directory " + path, errno);
  }

  Status remove_file(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return posix_error("cannot remove " + path, errno);
    return Status::ok();
  }

  Status remove_tree(const std::string& path) override {
    if (!is_directory(path)) return remove_file(path);
    auto names = list_dir(path);
    if (!names.is_ok()) return names.status();
    for (const std::string& name : *names) {
      DLNEST_RETURN_IF_ERROR(remove_tree(path::join(path, name)));
    }
    if (::rmdir(path.c_str()) != 0) return posix_error("cannot remove " + path, errno);
    return Status::ok();
  }

  Status rename_file(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return posix_error("cannot rename " + from + " to " + to, errno);
    }
    return Status::ok();
  }

  Status sync_dir(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return posix_error("cannot open directory " + path, errno);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return posix_error("cannot fsync directory " + path, err);
    return Status::ok();
  }
};

}  // namespace

Env* Env::default_env() {
  static Env* env = new PosixEnv;
  return env;
}

}  // namespace dlnest
