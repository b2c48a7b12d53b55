#include "plugins/log_format.h"

#include <algorithm>
#include <cctype>

namespace dlnest {

std::optional<LogLevel> parse_log_level(const std::string& text) {
  std::string upper = text;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (upper == "DEBUG" || upper == "10") return LogLevel::kDebug;
  if (upper == "INFO" || upper == "20") return LogLevel::kInfo;
  if (upper == "WARNING" || upper == "WARN" || upper == "30") return LogLevel::kWarning;
  if (upper == "ERROR" || upper == "CRITICAL" || upper == "40" || upper == "50") {
    return LogLevel::kError;
  }
  return std::nullopt;
}

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARNING";
    case LogLevel::kError:
      return "ERROR";
  }
  return "INFO";
}

std::string format_log_line(const LogSettings& settings, LogLevel level, const std::string& name,
                            const std::string& message, std::time_t now) {
  std::tm local{};
  ::localtime_r(&now, &local);
  char date[256] = "";
  if (std::strftime(date, sizeof date, settings.datefmt.c_str(), &local) == 0) date[0] = '\0';
  const std::pair<const char*, std::string> fields[] = {{"%(asctime)s", date},
                                                        {"%(levelname)s", log_level_name(level)},
                                                        {"%(name)s", name},
                                                        {"%(message)s", message},
                                                        {"%%", "%"}};
  std::string out;
  const std::string& format = settings.format;
  for (size_t i = 0; i < format.size();) {
    bool matched = false;
    for (const auto& [token, value] : fields) {
      if (format.compare(i, std::char_traits<char>::length(token), token) == 0) {
        out += value;
        i += std::char_traits<char>::length(token);
        matched = true;
        break;
      }
    }
    if (!matched) out += format[i++];
  }
  return out;
}

}  // namespace dlnest
