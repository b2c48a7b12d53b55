#include "metrics/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace dlnest {
namespace {

TEST(Crc32cTest, MatchesTheKnownValues) {
  const std::string digits = "123456789";
  EXPECT_EQ(crc32c(digits.data(), digits.size()), 0xe3069283u);
  const std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8a9136aau);  // RFC 3720, B.4
  EXPECT_EQ(crc32c("", 0), 0u);
}

TEST(Crc32cTest, MasksAsTfRecordDoes) {
  const std::string digits = "123456789";
  const uint32_t crc = 0xe3069283u;
  EXPECT_EQ(masked_crc32c(digits.data(), digits.size()), ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
}

}  // namespace
}  // namespace dlnest
