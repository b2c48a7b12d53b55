// Env: the filesystem seam. Everything DLNest writes to disk goes through an Env, so tests can
// inject write/fsync failures and simulated crashes (see src/env/fault_injection_env.h).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dlnest/status.h"

namespace dlnest {

/// A file being written sequentially. Data is durable only after sync() returns ok.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status append(std::string_view data) = 0;
  /// Flushes written data to stable storage (fsync).
  virtual Status sync() = 0;
  virtual Status close() = 0;
};

/// Filesystem operations used by the save package and checkpoint store.
class Env {
 public:
  virtual ~Env() = default;

  /// The process-wide POSIX implementation. Never deleted.
  static Env* default_env();

  /// Creates or truncates `path` for writing.
  virtual Result<std::unique_ptr<WritableFile>> new_writable_file(const std::string& path) = 0;
  virtual Result<std::string> read_file(const std::string& path) = 0;
  /// Reads a file that a request or a save package names (a config, args.json, _package.json)
  /// without ever blocking on it or reading without end: only a regular file of at most
  /// `max_bytes` bytes is read; a FIFO, a device, a directory or a larger file is refused with an
  /// error naming `path`. A symbolic link is followed; when `within` is not empty the file's real
  /// path must lie under the real path of the folder `within`, else FailedPrecondition.
  virtual Result<std::string> read_bounded_file(const std::string& path, size_t max_bytes,
                                                const std::string& within) = 0;
  virtual bool file_exists(const std::string& path) = 0;
  virtual bool is_directory(const std::string& path) = 0;
  /// Names (not paths) of the entries of directory `path`, sorted.
  virtual Result<std::vector<std::string>> list_dir(const std::string& path) = 0;
  /// Creates `path` and its missing parents; ok when it already exists as a directory.
  virtual Status create_dirs(const std::string& path) = 0;
  /// Creates the single directory `path`; AlreadyExists when it exists (an exclusive claim).
  virtual Status create_dir(const std::string& path) = 0;
  virtual Status remove_file(const std::string& path) = 0;
  /// Removes a directory and everything below it.
  virtual Status remove_tree(const std::string& path) = 0;
  /// Atomically replaces `to` with `from`.
  virtual Status rename_file(const std::string& from, const std::string& to) = 0;
  /// Makes the directory's entries (creations, renames, removals) durable.
  virtual Status sync_dir(const std::string& path) = 0;
};

/// Called with a sink to stream a file's contents; returns the first error of the sink or its own.
using FileWriter = std::function<Status(WritableFile& out)>;

/// Writes `path` so that a crash at any instant leaves either the old or the new contents:
/// write `<path>.tmp`, fsync, rename over `path`, fsync the directory.
Status write_file_atomically(Env* env, const std::string& path, const FileWriter& writer);
Status write_file_atomically(Env* env, const std::string& path, std::string_view contents);

/// Copies one regular file (not atomically; used for freshly created package folders).
Status copy_file(Env* env, const std::string& from, const std::string& to);
/// Copies a file, or a directory with everything below it.
Status copy_tree(Env* env, const std::string& from, const std::string& to);

/// The suffix of temporary files written by write_file_atomically.
inline constexpr std::string_view kTempSuffix = ".tmp";

}  // namespace dlnest
