// SavePackage: the folder that makes a run reproducible: copied sources, merged args.json, the
// checkpoints and their _package.json index, the run's output. Usable on its own, like the
// original DLNest SavePackage (see docs/save_package.md).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dlnest/checkpoint_store.h"
#include "dlnest/config.h"
#include "dlnest/env.h"
#include "dlnest/status.h"

namespace dlnest {

/// How save_to_new_dir() names and fills the package folder.
struct PackageOptions {
  std::string description;       ///< shown by the "_desc: <text>" marker file
  bool no_save = false;          ///< folder "NOSAVE", replacing an earlier one
  bool use_description = false;  ///< folder named by the description instead of the time
  std::string name;              ///< explicit folder name (overrides the two above)
  bool copy_files = true;        ///< copy the project files named by the args

  PackageOptions& with_description(std::string d) {
    description = std::move(d);
    return *this;
  }
  PackageOptions& with_no_save(bool n) {
    no_save = n;
    return *this;
  }
  PackageOptions& with_use_description(bool u) {
    use_description = u;
    return *this;
  }
  PackageOptions& with_name(std::string n) {
    name = std::move(n);
    return *this;
  }
  PackageOptions& with_copy_files(bool c) {
    copy_files = c;
    return *this;
  }
};

class SavePackage {
 public:
  // The names inside a package (docs/save_package.md), spelled here once for every writer and
  // reader. The checkpoint store owns its index and folder.
  static constexpr const char* kArgsFile = "args.json";
  static constexpr const char* kIndexFile = CheckpointStore::kIndexFile;
  static constexpr const char* kCheckpointsDir = CheckpointStore::kCheckpointDir;
  static constexpr const char* kPluginFile = "dlnest_plugin.so";
  static constexpr const char* kOutputFile = "_output.txt";
  static constexpr const char* kMetricsFile = "metrics.jsonl";
  static constexpr const char* kAnalyzeScriptsDir = "AnalyzeScripts";
  static constexpr const char* kNoSaveName = "NOSAVE";
  static constexpr const char* kDescPrefix = "_desc: ";
  /// Rank `rank`'s output in a distributed run, "_output_<rank>.txt"; kOutputFile holds the
  /// launcher's.
  static std::string output_file_for_rank(int rank);

  /// Gives the package its arguments (`save_root` at least); nothing is written yet.
  explicit SavePackage(Json args, Env* env = Env::default_env());
  /// Takes loaded arguments; the config files that made them are copied on save.
  explicit SavePackage(LoadedConfig config, Env* env = Env::default_env());
  /// Loads and merges `config_path` (and `freq_path`); the config files are copied on save.
  static Result<SavePackage> from_config(const std::string& config_path,
                                         const std::string& freq_path = "",
                                         Env* env = Env::default_env());
  /// Opens an existing package; an error names the folder when it is not a package.
  static Result<SavePackage> open(const std::string& dir, Env* env = Env::default_env());

  /// Creates the package folder under `save_root` ("<YYYY-MM-DD_HH-MM-SS>_<3 digits>", "NOSAVE",
  /// or the description), copies the project files keeping their layout relative to
  /// `root_file_path` (files outside it go to the package root), writes args.json with
  /// `root_file_path` pointing at the package, the description marker and an empty index.
  Status save_to_new_dir(const PackageOptions& options = {});

  /// Saves a checkpoint through the tracks; `hold` puts it in the consistent track.
  Result<int> save_checkpoint(const FileWriter& writer, bool hold = false);
  Result<int> save_checkpoint(std::string_view bytes, bool hold = false);
  /// Saves the checkpoint of an interrupted run, outside the tracks (see
  /// CheckpointStore::save_interrupt).
  Result<int> save_interrupt_checkpoint(const FileWriter& writer);
  /// The bytes of checkpoint `id` (-1: the latest).
  Result<std::string> load_checkpoint(int id = -1) const;
  /// The file of checkpoint `id` (-1: the latest).
  Result<std::string> checkpoint_path(int id = -1) const;
  /// Continues from checkpoint `id` (see CheckpointStore::set_current_id).
  Status set_checkpoint_id(int id);
  /// Writes an empty file named `text` in the package root (the original saveVisualString).
  Status save_visual_string(const std::string& text);

  bool has_dir() const { return store_ != nullptr; }
  /// The package folder (absolute); empty before save_to_new_dir().
  const std::string& root() const { return root_; }
  const Json& args() const { return args_; }
  /// The text of the "_desc: " marker, or "".
  std::string description() const;
  /// The checkpoint store; has_dir() must be true.
  CheckpointStore& checkpoints() { return *store_; }
  const CheckpointStore& checkpoints() const { return *store_; }

 private:
  Status require_dir() const;
  Result<std::string> claim_folder(const std::string& save_root, const PackageOptions& options);
  Status fill_folder(const PackageOptions& options);
  Status copy_project_files(Json& args);

  Env* env_;
  Json args_;
  std::vector<std::string> config_files_;
  std::string root_;
  std::unique_ptr<CheckpointStore> store_;
};

}  // namespace dlnest
