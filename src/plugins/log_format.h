// The lines of a plugin's log, in the shape LogInit configures with the options of Python's
// logging.basicConfig that the original used: `level`, `format` (%(asctime)s, %(levelname)s,
// %(name)s, %(message)s, %%) and `datefmt` (strftime).
#pragma once

#include <ctime>
#include <optional>
#include <string>

#include "dlnest/train_plugin.h"

namespace dlnest {

struct LogSettings {
  LogLevel level = LogLevel::kInfo;
  std::string format = "[%(name)s] %(message)s";
  std::string datefmt = "%Y-%m-%d %H:%M:%S";
};

/// DEBUG, INFO, WARNING (WARN), ERROR (CRITICAL), any case, or Python's numbers 10..50.
std::optional<LogLevel> parse_log_level(const std::string& text);

/// "DEBUG", "INFO", "WARNING", "ERROR".
const char* log_level_name(LogLevel level);

/// One line (without the newline) of `name`'s `message` at `level`, written at `now`.
std::string format_log_line(const LogSettings& settings, LogLevel level, const std::string& name,
                            const std::string& message, std::time_t now);

}  // namespace dlnest
