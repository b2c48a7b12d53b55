// An in-memory Env that injects failures and simulates crashes, for crash-safety tests.
//
// Each file keeps its written bytes and its last synced bytes; each directory keeps its live
// entries and the entries made durable by the last sync_dir(). crash() throws away everything not
// made durable, the way a power cut would: unsynced file data, and creations, renames and removals
// whose directory was not synced. Directories themselves are durable as soon as they are created.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "dlnest/env.h"

namespace dlnest {

class FaultInjectionEnv final : public Env {
 public:
  /// The mutating operations the env counts and can fail.
  enum class Op { kCreate, kAppend, kSync, kClose, kRename, kSyncDir, kRemove };

  /// Fails the `n`-th (1-based, counted from now) operation of kind `op` with an IOError.
  void fail_nth(Op op, int n);
  /// Lets `n` more mutating operations through; every later one fails as if the process died.
  void freeze_after(int n);
  /// Clears injected failures and the freeze.
  void clear_faults();
  /// Reverts to the durable state. Open files become unusable. Clears injected faults.
  void crash();
  /// Mutating operations performed so far (failed ones included).
  int mutating_ops() const { return ops_; }

  Result<std::unique_ptr<WritableFile>> new_writable_file(const std::string& path) override;
  Result<std::string> read_file(const std::string& path) override;
  Result<std::string> read_bounded_file(const std::string& path, size_t max_bytes,
                                        const std::string& within) override;
  bool file_exists(const std::string& path) override;
  bool is_directory(const std::string& path) override;
  Result<std::vector<std::string>> list_dir(const std::string& path) override;
  Status create_dirs(const std::string& path) override;
  Status create_dir(const std::string& path) override;
  Status remove_file(const std::string& path) override;
  Status remove_tree(const std::string& path) override;
  Status rename_file(const std::string& from, const std::string& to) override;
  Status sync_dir(const std::string& path) override;

  struct Node {
    std::string data;
    std::string synced;
  };

  /// Counts an operation and says whether it must fail (also used by open files).
  Status check(Op op, const std::string& path);
  int generation() const { return generation_; }

 private:
  struct Dir {
    std::map<std::string, std::shared_ptr<Node>> live;
    std::map<std::string, std::shared_ptr<Node>> durable;
  };

  Dir* dir_of(const std::string& path);
  std::shared_ptr<Node> lookup(const std::string& path);

  std::map<std::string, Dir> dirs_;  // by normalized path
  std::map<Op, int> fail_countdown_;
  int ops_ = 0;
  int freeze_budget_ = -1;  // < 0: not frozen
  int generation_ = 0;
};

}  // namespace dlnest
