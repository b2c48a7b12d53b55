// The identity card of a project plugin: which SDK and libtorch it was built against, checked by
// the worker before it uses anything from the plugin. dlnest_add_project() defines it.
#pragma once

#include "dlnest/version.h"

namespace dlnest {

struct PluginAbi {
  int sdk_abi;
  const char* sdk_version;
  int torch_major;
  int torch_minor;
  int torch_patch;
};

}  // namespace dlnest

/// The symbol the worker looks up in a plugin.
#define DLNEST_PLUGIN_ABI_SYMBOL "dlnest_plugin_abi_v1"

/// Defines the plugin's PluginAbi; used once per plugin (by dlnest_add_project).
#define DLNEST_DEFINE_PLUGIN_ABI()                                                        \
  extern "C" __attribute__((visibility("default"))) const ::dlnest::PluginAbi*           \
  dlnest_plugin_abi_v1() {                                                                \
    static const ::dlnest::PluginAbi abi{DLNEST_SDK_ABI, DLNEST_SDK_VERSION,              \
                                         TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR,       \
                                         TORCH_VERSION_PATCH};                            \
    return &abi;                                                                          \
  }
