#include "export/safetensors.h"

#include <nlohmann/json.hpp>

namespace dlnest {

namespace {

struct DtypeSize {
  std::string_view name;
  size_t bytes;
};

constexpr DtypeSize kDtypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2},
    {"U16", 2},  {"F16", 2}, {"BF16", 2}, {"I32", 4},    {"U32", 4},     {"F32", 4},
    {"I64", 8},  {"U64", 8}, {"F64", 8},
};

Status check_tensor(const SafetensorsTensor& t) {
  if (t.name.empty()) return Status::invalid_argument("safetensors: a tensor without a name");
  const size_t element = safetensors_dtype_size(t.dtype);
  if (element == 0) {
    return Status::invalid_argument("safetensors: tensor '" + t.name + "' has dtype '" + t.dtype +
                                    "', which safetensors does not know");
  }
  std::uint64_t count = 1;
  for (std::int64_t d : t.shape) {
    if (d < 0) {
      return Status::invalid_argument("safetensors: tensor '" + t.name +
                                      "' has a negative dimension");
    }
    count *= static_cast<std::uint64_t>(d);
  }
  if (count * element != t.data.size()) {
    return Status::invalid_argument("safetensors: tensor '" + t.name + "' has " +
                                    std::to_string(t.data.size()) + " bytes, its shape needs " +
                                    std::to_string(count * element));
  }
  return Status::ok();
}

std::string little_endian_u64(std::uint64_t value) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  return out;
}

}  // namespace

size_t safetensors_dtype_size(std::string_view dtype) {
  for (const DtypeSize& d : kDtypes) {
    if (d.name == dtype) return d.bytes;
  }
  return 0;
}

Result<std::string> safetensors_header(const std::vector<SafetensorsTensor>& tensors,
                                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const SafetensorsTensor& t : tensors) {
    DLNEST_RETURN_IF_ERROR(check_tensor(t));
    if (t.name == "__metadata__" || header.contains(t.name)) {
      return Status::invalid_argument("safetensors: tensor name '" + t.name + "' is " +
                                      (t.name == "__metadata__" ? "reserved" : "repeated"));
    }
    const std::uint64_t end = offset + t.data.size();
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  if (json.size() > kMaxSafetensorsHeader) {
    return Status::invalid_argument("safetensors: the header of " +
                                    std::to_string(tensors.size()) + " tensors exceeds " +
                                    std::to_string(kMaxSafetensorsHeader) + " bytes");
  }
  return little_endian_u64(json.size()) + json;
}

Status write_safetensors(Env* env, const std::string& path,
                         const std::vector<SafetensorsTensor>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  DLNEST_ASSIGN_OR_RETURN(const std::string header, safetensors_header(tensors, metadata));
  return write_file_atomically(env, path, [&](WritableFile& out) {
    DLNEST_RETURN_IF_ERROR(out.append(header));
    for (const SafetensorsTensor& t : tensors) DLNEST_RETURN_IF_ERROR(out.append(t.data));
    return Status::ok();
  });
}

}  // namespace dlnest
