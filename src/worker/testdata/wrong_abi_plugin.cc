// A plugin that claims to be built against another libtorch, for the worker's refusal test.
#include "dlnest/plugin.h"

extern "C" __attribute__((visibility("default"))) const dlnest::PluginAbi* dlnest_plugin_abi_v1() {
  static const dlnest::PluginAbi abi{DLNEST_SDK_ABI, DLNEST_SDK_VERSION, 99, 1, 0};
  return &abi;
}
