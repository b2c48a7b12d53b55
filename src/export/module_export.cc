#include "export/module_export.h"

#include "export/safetensors.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors stores little-endian bytes, as the tensors are in memory here");

namespace dlnest {

namespace {

/// The archive key under which write_checkpoint stores one sub-archive per registered module.
constexpr char kModulesKey[] = "modules";

/// Appends the tensors of `archive` (a module saved by Module::save: its parameters, buffers and
/// one sub-archive per child) under `prefix`.
void collect(torch::serialize::InputArchive& archive, const std::string& prefix,
             std::vector<NamedTensor>& out) {
  for (const std::string& key : archive.keys()) {
    c10::IValue value;
    archive.try_read(key, value);
    if (value.isTensor()) {
      out.push_back({prefix + key, value.toTensor().to(torch::kCPU).contiguous()});
    } else if (value.isModule()) {
      torch::serialize::InputArchive child;
      archive.read(key, child);
      collect(child, prefix + key + ".", out);
    }
  }
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out.empty() ? "none" : out;
}

std::vector<NamedTensor> read_modules(const std::string& checkpoint, const std::string& module) {
  torch::serialize::InputArchive archive;
  archive.load_from(checkpoint, torch::Device(torch::kCPU));
  torch::serialize::InputArchive modules;
  TORCH_CHECK(archive.try_read(kModulesKey, modules),
              "no registered modules in it (is it a DLNest checkpoint?)");
  const std::vector<std::string> names = modules.keys();
  std::vector<NamedTensor> out;
  for (const std::string& name : names) {
    if (!module.empty() && name != module) continue;
    torch::serialize::InputArchive one;
    modules.read(name, one);
    collect(one, module.empty() ? name + "." : "", out);
  }
  TORCH_CHECK(module.empty() || std::find(names.begin(), names.end(), module) != names.end(),
              "no registered module '", module, "' (it has ", join(names), ")");
  return out;
}

}  // namespace

Result<std::vector<NamedTensor>> read_module_tensors(const std::string& checkpoint,
                                                     const std::string& module) {
  try {
    return read_modules(checkpoint, module);
  } catch (const c10::Error& e) {
    return Status::invalid_argument("cannot export " + checkpoint + ": " +
                                    e.what_without_backtrace());
  }
}

std::string safetensors_dtype(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat: return "F32";
    case torch::kDouble: return "F64";
    case torch::kHalf: return "F16";
    case torch::kBFloat16: return "BF16";
    case torch::kLong: return "I64";
    case torch::kInt: return "I32";
    case torch::kShort: return "I16";
    case torch::kChar: return "I8";
    case torch::kByte: return "U8";
    case torch::kBool: return "BOOL";
    default: return "";
  }
}

Status export_safetensors(const ExportOptions& options, Env* env) {
  DLNEST_ASSIGN_OR_RETURN(const std::vector<NamedTensor> tensors,
                          read_module_tensors(options.checkpoint, options.module));
  std::vector<SafetensorsTensor> entries;
  for (const NamedTensor& t : tensors) {
    const std::string dtype = safetensors_dtype(t.tensor.scalar_type());
    if (dtype.empty()) {
      return Status::invalid_argument("cannot export " + options.checkpoint + ": tensor '" +
                                      t.name + "' has dtype " +
                                      std::string(c10::toString(t.tensor.scalar_type())) +
                                      ", which safetensors cannot store");
    }
    entries.push_back({t.name, dtype, t.tensor.sizes().vec(),
                       std::string_view(static_cast<const char*>(t.tensor.data_ptr()),
                                        t.tensor.nbytes())});
  }
  return write_safetensors(env, options.output, entries, options.metadata)
      .with_context("writing " + options.output);
}

}  // namespace dlnest
