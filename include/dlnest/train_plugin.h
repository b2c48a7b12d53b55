// Training plugins, as in the original DLNest: classes listed by name in the config's `plugins`,
// configured by `plugins_config[<name>]`, whose hooks run around every stage of the LifeCycle
// (docs/training.md "Plugins"). Built-ins: LogInit, AutoTensorboardScalar, SimpleCMDVisualize,
// MailsNote. Torch-free, so a plugin compiles in a moment.
#pragma once

#include <string>
#include <utility>

#include "dlnest/life_cycle.h"
#include "dlnest/registry.h"

namespace dlnest {

/// The severity of a plugin's log line; LogInit's `level` hides the lines below it.
enum class LogLevel { kDebug, kInfo, kWarning, kError };

/// What a plugin sees of the run; set by the runtime before its first hook.
struct PluginContext {
  std::string name;               ///< the name the config lists it under
  const Json* options = nullptr;  ///< plugins_config[name] (an empty object when absent)
  const Json* args = nullptr;     ///< the run's merged args
  Runner* runner = nullptr;
  Dataset* dataset = nullptr;
  Json* log = nullptr;      ///< the run's log (what Runner::run_one_step fills)
  std::string package_dir;  ///< the save package being trained
  int rank = 0;
  int world_size = 1;
};

class TrainPlugin {
 public:
  virtual ~TrainPlugin() = default;

  /// Called once, after the context is set and before the first hook.
  virtual void init() {}
  /// Called before every stage (before the LifeCycle's own before-hook).
  virtual void before(const StageInfo& info) { (void)info; }
  /// Called after every stage, skipped or not (before the LifeCycle's own after-hook).
  virtual void after(const StageInfo& info) { (void)info; }
  /// The run failed: `error` says where and why ("stage OneEpoch (epoch 2, iter 17): ...").
  /// Called before the error ends the run; an exception thrown here is logged and ignored.
  virtual void on_abort(const std::string& error) { (void)error; }
  /// The run ended normally (the LifeCycle stopped it; not an interrupt).
  virtual void on_finish() {}
  /// Whether the plugin runs on every rank of a DDP run; by default only on rank 0.
  virtual bool all_ranks() const { return false; }

  const std::string& name() const { return context_.name; }
  /// plugins_config[name()].
  const Json& options() const { return *context_.options; }
  /// options()[key] when present and of the type of `fallback`, else `fallback`.
  template <typename T>
  T option(const std::string& key, const T& fallback) const {
    auto it = options().find(key);
    if (it == options().end()) return fallback;
    try {
      return it->template get<T>();
    } catch (const std::exception&) {
      return fallback;
    }
  }
  const Json& args() const { return *context_.args; }
  Runner* runner() const { return context_.runner; }
  Dataset* dataset() const { return context_.dataset; }
  Json& log() const { return *context_.log; }
  const std::string& package_dir() const { return context_.package_dir; }
  int rank() const { return context_.rank; }
  int world_size() const { return context_.world_size; }

  /// Writes `message` to the run's output as LogInit configured it ("[<name>] message" by
  /// default), unless `level` is below LogInit's level.
  void write_log(LogLevel level, const std::string& message) const;

  /// Set by the runtime.
  void attach(PluginContext context) { context_ = std::move(context); }

 private:
  PluginContext context_;
};

/// The plugins of the runtime (built-ins) and of the loaded project, by name.
Registry<TrainPlugin>& train_plugin_registry();

}  // namespace dlnest

/// Makes `Class` (a TrainPlugin) selectable as `"plugins": ["Class"]`.
#define DLNEST_REGISTER_PLUGIN(Class)                                                \
  static ::dlnest::Registration<::dlnest::TrainPlugin, Class> dlnest_plugin_##Class( \
      ::dlnest::train_plugin_registry(), #Class)
