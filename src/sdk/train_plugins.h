// The training plugins of one run (docs/training.md "Plugins"): the names of args' `plugins`,
// made from the plugin registry, given their options and the run's objects, and called by the
// training loop around every stage, when the run fails and when it ends.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dlnest/status.h"
#include "dlnest/train_plugin.h"
#include "plugins/log_format.h"

namespace dlnest {

/// Refuses `plugins` names that no plugin has (listing the registered ones), a `plugins` that is
/// not an array of strings and a name listed twice. Called before anything of the run starts.
Status check_plugins(const Json& args);

/// Where and how every plugin's write_log() writes (set by LogInit).
void set_plugin_log_settings(const LogSettings& settings);
LogSettings plugin_log_settings();

class PluginSet {
 public:
  /// Makes the plugins of `args` (checked by check_plugins) that run on rank `base.rank`,
  /// in their listed order, and calls their init(). `base` holds the run's objects; each plugin
  /// gets its name and its options (a built-in's defaults merged with plugins_config[name]).
  void start(const Json& args, const PluginContext& base);

  /// Each plugin's before-hook, in the listed order; an exception names the plugin.
  void before(const StageInfo& info);
  void after(const StageInfo& info);
  /// Every plugin's on_abort; exceptions are written to the log and ignored.
  void abort(const std::string& error) noexcept;
  void finish();

 private:
  /// Calls `hook` on each plugin, adding the plugin's name to an exception's message.
  template <typename Hook>
  void each(const char* what, Hook&& hook);

  std::vector<Json> options_;  // kept here: each plugin points at its own
  std::vector<std::unique_ptr<TrainPlugin>> plugins_;
};

}  // namespace dlnest
