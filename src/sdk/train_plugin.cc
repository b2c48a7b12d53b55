#include "dlnest/train_plugin.h"

#include <algorithm>
#include <ctime>
#include <iostream>
#include <mutex>
#include <stdexcept>

#include "config/builtin_plugins.h"
#include "sdk/train_plugins.h"

namespace dlnest {

namespace {

std::mutex& log_mutex() {
  static std::mutex mutex;
  return mutex;
}

LogSettings& settings_locked() {
  static LogSettings settings;
  return settings;
}

}  // namespace

Registry<TrainPlugin>& train_plugin_registry() {
  static Registry<TrainPlugin> registry;
  return registry;
}

void set_plugin_log_settings(const LogSettings& settings) {
  std::lock_guard<std::mutex> lock(log_mutex());
  settings_locked() = settings;
}

LogSettings plugin_log_settings() {
  std::lock_guard<std::mutex> lock(log_mutex());
  return settings_locked();
}

void TrainPlugin::write_log(LogLevel level, const std::string& message) const {
  std::lock_guard<std::mutex> lock(log_mutex());
  const LogSettings& settings = settings_locked();
  if (level < settings.level) return;
  std::cout << format_log_line(settings, level, name(), message, std::time(nullptr)) << std::endl;
}

Status check_plugins(const Json& args) {
  auto it = args.find("plugins");
  if (it == args.end()) return Status::ok();
  const std::vector<std::string> known = train_plugin_registry().names();
  std::vector<std::string> seen;
  for (const Json& entry : *it) {
    const std::string name = entry.get<std::string>();
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      return Status::invalid_argument("plugins: \"" + name + "\" is listed twice");
    }
    seen.push_back(name);
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string list;
    for (const std::string& n : known) list += (list.empty() ? "" : ", ") + n;
    return Status::invalid_argument("plugins: \"" + name +
                                    "\" is neither a built-in plugin nor registered by the project "
                                    "(known: " +
                                    list + ")");
  }
  return Status::ok();
}

template <typename Hook>
void PluginSet::each(const char* what, Hook&& hook) {
  for (const auto& plugin : plugins_) {
    try {
      hook(*plugin);
    } catch (const std::exception& e) {
      throw std::runtime_error("plugin " + plugin->name() + " (" + what + "): " + e.what());
    }
  }
}

void PluginSet::start(const Json& args, const PluginContext& base) {
  const Json names = args.value("plugins", Json::array());
  const Json config = args.value("plugins_config", Json::object());
  options_.reserve(names.size());  // each plugin keeps a pointer to its entry
  for (const Json& entry : names) {
    const std::string name = entry.get<std::string>();
    std::unique_ptr<TrainPlugin> plugin = train_plugin_registry().make(name);
    if (plugin == nullptr) continue;
    const BuiltinPlugin* builtin = find_builtin_plugin(name);
    options_.push_back(builtin != nullptr ? builtin->options : Json::object());
    merge_args(options_.back(), config.value(name, Json::object()));
    PluginContext context = base;
    context.name = name;
    context.options = &options_.back();
    plugin->attach(std::move(context));
    if (base.rank == 0 || plugin->all_ranks()) plugins_.push_back(std::move(plugin));
  }
  each("init", [](TrainPlugin& p) { p.init(); });
}

void PluginSet::before(const StageInfo& info) {
  each("before", [&](TrainPlugin& p) { p.before(info); });
}

void PluginSet::after(const StageInfo& info) {
  each("after", [&](TrainPlugin& p) { p.after(info); });
}

void PluginSet::finish() {
  each("on_finish", [](TrainPlugin& p) { p.on_finish(); });
}

void PluginSet::abort(const std::string& error) noexcept {
  for (const auto& plugin : plugins_) {
    try {
      plugin->on_abort(error);
    } catch (const std::exception& e) {
      plugin->write_log(LogLevel::kError, std::string("on_abort failed: ") + e.what());
    } catch (...) {
      plugin->write_log(LogLevel::kError, "on_abort failed");
    }
  }
}

}  // namespace dlnest
