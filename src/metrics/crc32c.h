// CRC-32C (Castagnoli), as the TFRecord framing of TensorBoard's event files uses it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dlnest {

/// CRC-32C of `size` bytes at `data`.
uint32_t crc32c(const void* data, size_t size);

/// The masked form TFRecord stores, so that a CRC of data holding CRCs stays well spread.
inline uint32_t masked_crc32c(const void* data, size_t size) {
  const uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

}  // namespace dlnest
