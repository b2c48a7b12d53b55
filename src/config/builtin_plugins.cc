#include "config/builtin_plugins.h"

namespace dlnest {

const std::vector<BuiltinPlugin>& builtin_plugins() {
  static const std::vector<BuiltinPlugin> kPlugins = {
      {"LogInit",
       {{"level", "INFO"},
        {"format", "[%(asctime)s][%(levelname)s] %(message)s"},
        {"datefmt", "%Y-%m-%d %H:%M:%S"}},
       {"level"}},
      {"AutoTensorboardScalar", Json::object(), {}},
      {"SimpleCMDVisualize",
       {{"stride", 1}, {"keys", Json::array()}, {"format", Json::object()}},
       {"stride", "keys", "format"}},
      {"MailsNote",
       {{"enable_list", {"Aborting", "TrainFinish"}},
        {"username", ""},
        {"password", ""},
        {"host", "localhost"},
        {"port", 25}},
       {"enable_list", "username", "password", "host"}},
  };
  return kPlugins;
}

const BuiltinPlugin* find_builtin_plugin(const std::string& name) {
  for (const BuiltinPlugin& plugin : builtin_plugins()) {
    if (plugin.name == name) return &plugin;
  }
  return nullptr;
}

std::optional<Json> builtin_plugin_template(const std::string& name, bool full) {
  const BuiltinPlugin* plugin = find_builtin_plugin(name);
  if (plugin == nullptr) return std::nullopt;
  if (full) return plugin->options;
  Json out = Json::object();
  for (const std::string& key : plugin->default_keys) out[key] = plugin->options[key];
  return out;
}

}  // namespace dlnest
