#include "plugins/python_format.h"

#include <gtest/gtest.h>

namespace dlnest {
namespace {

std::string fmt(const std::string& pattern, const std::vector<Json>& values) {
  Result<std::string> out = python_format(pattern, values);
  return out.is_ok() ? *out : "error: " + out.status().message();
}

TEST(PythonFormatTest, FormatsAsPythonDoes) {
  // The original's SimpleCMDVisualize formats, and Python's own output for the same values.
  EXPECT_EQ(fmt("\t| {} : {:.6f}", {"loss", 0.25}), "\t| loss : 0.250000");
  EXPECT_EQ(fmt("\t| {}: {}", {"acc", 0.5}), "\t| acc: 0.5");
  EXPECT_EQ(fmt("\t| {}: {}", {"acc", 2.0}), "\t| acc: 2.0");
  EXPECT_EQ(fmt("\t| {}: {}", {"n", 3}), "\t| n: 3");
  EXPECT_EQ(fmt("{}: {}", {"x", nullptr}), "x: None");
  EXPECT_EQ(fmt("{1}={0}", {"a", "b"}), "b=a");
  EXPECT_EQ(fmt("{:>8.3f}|{:<6}|{:^7}|", {3.14159, "ab", "mid"}), "   3.142|ab    |  mid  |");
  EXPECT_EQ(fmt("{:+.2e}", {12345.678}), "+1.23e+04");
  EXPECT_EQ(fmt("{:08.3f}", {-3.5}), "-003.500");
  EXPECT_EQ(fmt("{:.1%}", {0.1234}), "12.3%");
  EXPECT_EQ(fmt("{:d}", {42}), "42");
  EXPECT_EQ(fmt("{:.3}", {0.123456}), "0.123");
  EXPECT_EQ(fmt("{{literal}} {}", {1}), "{literal} 1");
}

TEST(PythonFormatTest, ErrorsSayWhatIsWrong) {
  EXPECT_EQ(fmt("{:.6f}", {nullptr}),
            "error: Unknown format code 'f' for object of type 'NoneType'");
  EXPECT_EQ(fmt("{:d}", {0.5}), "error: Unknown format code 'd' for object of type 'number'");
  EXPECT_EQ(fmt("{} {} {}", {"a", "b"}),
            "error: Replacement index 2 out of range for positional args tuple");
  EXPECT_EQ(fmt("{:q}", {1}), "error: Invalid format specifier 'q'");
  EXPECT_EQ(fmt("{", {1}), "error: Single '{' encountered in format string");
  EXPECT_EQ(fmt("}", {1}), "error: Single '}' encountered in format string");
  EXPECT_EQ(fmt("{key}", {1}), "error: field 'key': only positional fields are supported");
}

}  // namespace
}  // namespace dlnest
