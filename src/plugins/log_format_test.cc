#include "plugins/log_format.h"

#include <gtest/gtest.h>

namespace dlnest {
namespace {

TEST(LogFormatTest, ParsesPythonLevels) {
  EXPECT_EQ(parse_log_level("debug"), LogLevel::kDebug);
  EXPECT_EQ(parse_log_level("INFO"), LogLevel::kInfo);
  EXPECT_EQ(parse_log_level("Warning"), LogLevel::kWarning);
  EXPECT_EQ(parse_log_level("30"), LogLevel::kWarning);
  EXPECT_EQ(parse_log_level("CRITICAL"), LogLevel::kError);
  EXPECT_EQ(parse_log_level("LOUD"), std::nullopt);
}

TEST(LogFormatTest, FormatsLinesAsLoggingBasicConfigDoes) {
  LogSettings settings;
  settings.format = "[%(asctime)s][%(levelname)s] %(message)s 100%%";
  settings.datefmt = "%Y";
  const std::time_t when = 1700000000;  // 2023 in every time zone
  EXPECT_EQ(format_log_line(settings, LogLevel::kWarning, "P", "hello", when),
            "[2023][WARNING] hello 100%");
  EXPECT_EQ(format_log_line(LogSettings{}, LogLevel::kInfo, "SimpleCMDVisualize", "Iter : 0", when),
            "[SimpleCMDVisualize] Iter : 0");
}

}  // namespace
}  // namespace dlnest
