#include "sdk/plugin_loader.h"

#include <dlfcn.h>
#include <torch/version.h>

#include "dlnest/plugin.h"

namespace dlnest {

namespace {

std::string describe(int sdk_abi, const std::string& sdk, int major, int minor, int patch) {
  return "SDK " + sdk + " (ABI " + std::to_string(sdk_abi) + "), libtorch " +
         std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

}  // namespace

Status load_plugin(const std::string& file) {
  void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = ::dlerror();
    return Status::invalid_argument("cannot load plugin " + file + ": " +
                                    (error != nullptr ? error : "unknown error"));
  }
  using AbiFunction = const PluginAbi* (*)();
  auto abi_function = reinterpret_cast<AbiFunction>(::dlsym(handle, DLNEST_PLUGIN_ABI_SYMBOL));
  if (abi_function == nullptr) {
    return Status::invalid_argument(file + " is not a DLNest plugin (no symbol " +
                                    std::string(DLNEST_PLUGIN_ABI_SYMBOL) +
                                    "; build it with dlnest_add_project)");
  }
  const PluginAbi* abi = abi_function();
  const bool same = abi->sdk_abi == DLNEST_SDK_ABI && abi->torch_major == TORCH_VERSION_MAJOR &&
                    abi->torch_minor == TORCH_VERSION_MINOR;
  if (!same) {
    return Status::invalid_argument(
        "plugin " + file + " was built against " +
        describe(abi->sdk_abi, abi->sdk_version, abi->torch_major, abi->torch_minor,
                 abi->torch_patch) +
        ", but this worker has " +
        describe(DLNEST_SDK_ABI, DLNEST_SDK_VERSION, TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR,
                 TORCH_VERSION_PATCH) +
        "; rebuild the project against this SDK");
  }
  return Status::ok();
}

}  // namespace dlnest
