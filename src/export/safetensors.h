// The safetensors file format (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length, a JSON header naming each tensor's dtype, shape and byte range,
// then the tensors' bytes. Torch-free: the caller hands over bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dlnest/env.h"
#include "dlnest/status.h"

namespace dlnest {

/// The largest JSON header written (and read back by the safetensors library): 100 MB.
constexpr size_t kMaxSafetensorsHeader = 100'000'000;

/// One tensor to write: its bytes in C (row-major) order, little-endian.
struct SafetensorsTensor {
  std::string name;
  std::string dtype;  ///< safetensors' name: "F32", "F64", "F16", "BF16", "I64", "U8", "BOOL", ...
  std::vector<std::int64_t> shape;
  std::string_view data;  ///< must stay valid until the file is written
};

/// Bytes per element of a safetensors dtype; 0 for a name safetensors does not know.
size_t safetensors_dtype_size(std::string_view dtype);

/// The header (length prefix, JSON padded with spaces to a multiple of 8 bytes) for `tensors`
/// laid out in their order, and `metadata` as "__metadata__". Errors name the tensor at fault: an
/// empty or repeated name, an unknown dtype, a negative dimension, or bytes that do not match
/// the shape.
Result<std::string> safetensors_header(const std::vector<SafetensorsTensor>& tensors,
                                       const std::map<std::string, std::string>& metadata);

/// Writes `tensors` to `path` atomically (a crash leaves no half-written file).
Status write_safetensors(Env* env, const std::string& path,
                         const std::vector<SafetensorsTensor>& tensors,
                         const std::map<std::string, std::string>& metadata);

}  // namespace dlnest
