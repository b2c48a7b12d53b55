// CheckpointStore: the Checkpoints/ folder of a save package and its _package.json index, with
// the fast / slow / consistent tracks of the original DLNest (see docs/save_package.md).
//
// The store deals in opaque bytes (or a writer callback that streams them), so it stays free of
// libtorch; the training runtime passes its serialiser in as a FileWriter.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dlnest/config.h"
#include "dlnest/env.h"
#include "dlnest/status.h"

namespace dlnest {

/// The `checkpoint_args` of a config. A cap of 0 keeps nothing in that track.
struct CheckpointArgs {
  int max_ckpt_in_slow_track = 0;
  int dilation_in_slow_track = 100;
  int max_ckpt_in_fast_track = 1;
  int max_ckpt_in_consistent_track = 1;
  /// Inside an epoch, save every this many training steps; 0: never (docs/training.md).
  int every_steps = 0;
  /// Inside an epoch, save when this many minutes passed since the last save; 0: never.
  double every_minutes = 0;

  /// Reads `args["checkpoint_args"]`; missing keys keep their defaults.
  static Result<CheckpointArgs> from_args(const Json& args);
};

/// Checkpoint ids held by each track, oldest first.
struct CheckpointTracks {
  std::deque<int> fast;
  std::deque<int> slow;
  std::deque<int> consistent;
  /// The checkpoint an interrupted run left (at most one), outside the tracks' caps; a later
  /// save supersedes it.
  std::deque<int> interrupt;

  bool holds(int id) const;
  /// Every held id, ascending, without duplicates.
  std::vector<int> ids() const;
  /// The largest held id, or -1 when the tracks are empty.
  int latest() const;
};

class CheckpointStore {
 public:
  /// The index file in the package root and the checkpoint folder below it.
  static constexpr const char* kIndexFile = "_package.json";
  static constexpr const char* kCheckpointDir = "Checkpoints";
  static constexpr const char* kDefaultPrefix = "state_";

  /// Opens the store of the package in `package_dir`, reading its _package.json when present
  /// (a missing index means an empty store). A malformed index is a Corruption error.
  static Result<std::unique_ptr<CheckpointStore>> open(Env* env, const std::string& package_dir,
                                                       const CheckpointArgs& args);

  /// Saves checkpoint `next_id()` and returns its id. `hold` puts it in the consistent track.
  /// On failure every checkpoint the in-memory tracks hold stays loadable. (When the save reuses
  /// the id of a file dropped by set_current_id(), the shortened tracks are written first.)
  Result<int> save(const FileWriter& writer, bool hold);
  Result<int> save(std::string_view bytes, bool hold);
  /// Saves checkpoint `next_id()` as the interrupt checkpoint: it takes the place of the previous
  /// one and leaves the tracks as they are.
  Result<int> save_interrupt(const FileWriter& writer);

  /// The file of checkpoint `id` (-1: the latest). NotFound when no track holds it.
  Result<std::string> path_of(int id) const;
  /// The bytes of checkpoint `id` (-1: the latest).
  Result<std::string> read(int id) const;

  /// Continues from checkpoint `id`: ids above it leave every track and the next save is `id + 1`.
  /// Their files stay on disk (a later save with the same id replaces one). Takes effect on disk
  /// with the next save, so a continue that fails before saving loses nothing.
  Status set_current_id(int id);

  /// Writes the current tracks to _package.json (atomically).
  Status flush_index();

  const CheckpointTracks& tracks() const { return tracks_; }
  int next_id() const { return next_id_; }
  /// The latest held checkpoint, or -1.
  int latest_id() const { return tracks_.latest(); }
  const std::string& prefix() const { return prefix_; }
  const std::string& package_dir() const { return package_dir_; }

 private:
  CheckpointStore(Env* env, std::string package_dir, const CheckpointArgs& args);

  std::string file_of(int id) const;
  /// Writes checkpoint next_id() and the tracks `place` makes of it (the ids they drop go to
  /// the vector), then removes the files no track holds any more.
  Result<int> save_as(const FileWriter& writer,
                      const std::function<void(CheckpointTracks&, int, std::vector<int>&)>& place);
  Status write_index(const CheckpointTracks& tracks);
  /// Removes temp files and unheld checkpoints below next_id() left by an interrupted save.
  void collect_garbage();

  Env* env_;
  std::string package_dir_;
  std::string checkpoint_dir_;
  CheckpointArgs args_;
  CheckpointTracks tracks_;
  std::string prefix_ = kDefaultPrefix;
  int next_id_ = 0;
  bool garbage_collected_ = false;
};

}  // namespace dlnest
