// Changing a save package's arguments when its run is continued (more epochs, a lower learning
// rate): args.json gets the changes, and `_args_history.json` beside it records each one, so the
// package still tells how its run was made. Torch-free.
#pragma once

#include <string>
#include <vector>

#include "dlnest/config.h"
#include "dlnest/env.h"
#include "dlnest/status.h"

namespace dlnest {

/// The changes a continue asks for. Applied in this order: the freq file, then the settings.
struct ArgsChanges {
  std::string freq_path;              ///< a JSON object merged into the args (as `run -f`)
  std::vector<std::string> settings;  ///< "key=value"; a dotted key reaches into objects

  bool empty() const { return freq_path.empty() && settings.empty(); }
};

/// The history file in a package.
inline constexpr const char* kArgsHistoryFile = "_args_history.json";

/// The changes as one overlay for merge_args: the freq file's object, then each setting (its
/// value parsed as JSON when it is JSON, else taken as a string: `lr=1e-4` is a number,
/// `optimizer=sgd` a string). Errors name the file or the setting.
Result<Json> args_overlay(const ArgsChanges& changes, Env* env = Env::default_env());

/// Merges `changes` into the args.json of the package in `package_dir` (rewritten atomically)
/// and appends to its history: the time, `checkpoint_id`, what was asked and each value that
/// changed ("from", "to"). Returns the new args. A change that alters nothing is recorded too.
Result<Json> change_package_args(const std::string& package_dir, const ArgsChanges& changes,
                                 int checkpoint_id, Env* env = Env::default_env());

/// The entries of the package's history, oldest first (an empty array when it has none).
Result<Json> read_args_history(const std::string& package_dir, Env* env = Env::default_env());

}  // namespace dlnest
