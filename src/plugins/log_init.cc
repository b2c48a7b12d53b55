// LogInit: the level, format and date format of the plugins' log lines, with the options of
// the original's LogInit (Python's logging.basicConfig).
#include "dlnest/train_plugin.h"
#include "sdk/train_plugins.h"

namespace dlnest {
namespace {

class LogInit : public TrainPlugin {
 public:
  void init() override {
    LogSettings settings;
    const std::string level = option<std::string>("level", "INFO");
    const std::optional<LogLevel> parsed = parse_log_level(level);
    if (!parsed) {
      throw std::runtime_error("level \"" + level +
                               "\" is not a log level (DEBUG, INFO, WARNING, ERROR)");
    }
    settings.level = *parsed;
    settings.format = option<std::string>("format", settings.format);
    settings.datefmt = option<std::string>("datefmt", settings.datefmt);
    set_plugin_log_settings(settings);
  }
  bool all_ranks() const override { return true; }
};

}  // namespace
}  // namespace dlnest

using dlnest::LogInit;
DLNEST_REGISTER_PLUGIN(LogInit);
