// Exporting the registered modules of a DLNest checkpoint as safetensors, named as PyTorch's
// state_dict() names the same module tree (docs/save_package.md, "Exporting weights").
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "dlnest/env.h"
#include "dlnest/status.h"

namespace dlnest {

/// One tensor of a registered module, under its state_dict() name.
struct NamedTensor {
  std::string name;
  torch::Tensor tensor;  ///< on the CPU
};

/// What to export and where.
struct ExportOptions {
  std::string checkpoint;  ///< a checkpoint file of a save package (Checkpoints/state_<N>.ckpt)
  std::string output;      ///< the .safetensors file to write (replaced atomically)
  /// One registered module, whose own state_dict() names are used; empty: every registered
  /// module, each name prefixed by "<module name>.".
  std::string module;
  std::map<std::string, std::string> metadata;  ///< stored as the file's "__metadata__"
};

/// The parameters and buffers of the registered modules in `checkpoint`, in state_dict() order
/// (a module's parameters, then its buffers, then its children's), moved to the CPU. `module`
/// as in ExportOptions. Errors name the file, and the module when it is not in the checkpoint.
Result<std::vector<NamedTensor>> read_module_tensors(const std::string& checkpoint,
                                                     const std::string& module);

/// safetensors' name for a tensor's dtype ("F32", "I64", ...); empty when safetensors has none.
std::string safetensors_dtype(torch::ScalarType type);

/// Reads the modules of `options.checkpoint` and writes them to `options.output`.
Status export_safetensors(const ExportOptions& options, Env* env = Env::default_env());

}  // namespace dlnest
