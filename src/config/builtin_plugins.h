// The options of the built-in training plugins (docs/training.md "Plugins"), torch-free: the
// runtime fills a built-in's missing options from here, and /add_plugins writes them into a
// project's config, as the original's `addP` did.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dlnest/config.h"  // Json

namespace dlnest {

/// One built-in plugin: every option with its default, and the options /add_plugins writes
/// without `full` (the original's `_defaultKeys`).
struct BuiltinPlugin {
  std::string name;
  Json options;
  std::vector<std::string> default_keys;
};

/// LogInit, AutoTensorboardScalar, SimpleCMDVisualize, MailsNote.
const std::vector<BuiltinPlugin>& builtin_plugins();

/// The built-in called `name`, or nullptr.
const BuiltinPlugin* find_builtin_plugin(const std::string& name);

/// The options /add_plugins writes for built-in `name`: its default keys, or every option with
/// `full`. nullopt when `name` is not a built-in.
std::optional<Json> builtin_plugin_template(const std::string& name, bool full);

}  // namespace dlnest
