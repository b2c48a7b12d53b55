#include "export/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "testing/temp_dir.h"

namespace dlnest {
namespace {

std::uint64_t length_prefix(const std::string& bytes) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  return n;
}

const std::string kFloats(8, '\x01');   // two F32
const std::string kLongs(24, '\x02');   // three I64

TEST(SafetensorsTest, HeaderListsTensorsInOrderWithContiguousOffsets) {
  auto header = safetensors_header(
      {{"b.weight", "F32", {2}, kFloats}, {"a.count", "I64", {3, 1}, kLongs}},
      {{"format", "pt"}});
  ASSERT_TRUE(header.is_ok()) << header.status().message();
  const std::uint64_t n = length_prefix(*header);
  EXPECT_EQ(n, header->size() - 8);
  EXPECT_EQ(n % 8, 0u);
  const std::string json = header->substr(8);
  EXPECT_EQ(json.substr(0, json.find_last_not_of(' ') + 1),
            R"({"__metadata__":{"format":"pt"},)"
            R"("b.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
            R"("a.count":{"dtype":"I64","shape":[3,1],"data_offsets":[8,32]}})");
}

TEST(SafetensorsTest, ScalarsAndEmptyTensors) {
  auto header = safetensors_header({{"s", "F64", {}, std::string(8, '\0')}, {"e", "U8", {0, 4}, ""}},
                                   {});
  ASSERT_TRUE(header.is_ok()) << header.status().message();
  auto json = nlohmann::json::parse(header->substr(8));
  EXPECT_FALSE(json.contains("__metadata__"));
  EXPECT_EQ(json["s"]["shape"], nlohmann::json::array());
  EXPECT_EQ(json["e"]["data_offsets"], nlohmann::json({8, 8}));
}

TEST(SafetensorsTest, ErrorsNameTheTensor) {
  auto expect_error = [](std::vector<SafetensorsTensor> tensors, const std::string& message) {
    auto header = safetensors_header(tensors, {});
    ASSERT_FALSE(header.is_ok()) << message;
    EXPECT_EQ(header.status().message(), message);
  };
  expect_error({{"w", "F32", {3}, kFloats}}, "safetensors: tensor 'w' has 8 bytes, its shape needs 12");
  expect_error({{"w", "F31", {2}, kFloats}},
               "safetensors: tensor 'w' has dtype 'F31', which safetensors does not know");
  expect_error({{"w", "F32", {2}, kFloats}, {"w", "F32", {2}, kFloats}},
               "safetensors: tensor name 'w' is repeated");
  expect_error({{"__metadata__", "F32", {2}, kFloats}},
               "safetensors: tensor name '__metadata__' is reserved");
  expect_error({{"", "F32", {2}, kFloats}}, "safetensors: a tensor without a name");
  expect_error({{"w", "F32", {-2}, kFloats}}, "safetensors: tensor 'w' has a negative dimension");
}

TEST(SafetensorsTest, FileIsHeaderThenBytes) {
  testing::TempDir dir;
  const std::string file = dir.file("w.safetensors");
  ASSERT_TRUE(write_safetensors(Env::default_env(), file,
                                {{"x", "F32", {2}, kFloats}, {"y", "I64", {3}, kLongs}}, {})
                  .is_ok());
  auto bytes = Env::default_env()->read_file(file);
  ASSERT_TRUE(bytes.is_ok());
  const std::uint64_t n = length_prefix(*bytes);
  ASSERT_EQ(bytes->size(), 8 + n + 32);
  EXPECT_EQ(bytes->substr(8 + n), kFloats + kLongs);
  EXPECT_FALSE(Env::default_env()->file_exists(file + ".tmp"));
}

TEST(SafetensorsTest, DtypeSizes) {
  EXPECT_EQ(safetensors_dtype_size("BF16"), 2u);
  EXPECT_EQ(safetensors_dtype_size("BOOL"), 1u);
  EXPECT_EQ(safetensors_dtype_size("F64"), 8u);
  EXPECT_EQ(safetensors_dtype_size("f32"), 0u);
}

}  // namespace
}  // namespace dlnest
