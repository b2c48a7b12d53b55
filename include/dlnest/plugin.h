// The identity card of a project plugin: which SDK and libtorch it was built against. It lives in
// a section of the plugin's file of its own, which the worker reads before it loads the plugin,
// so that no code of a mismatched plugin (not even its static registrations) ever runs.
// dlnest_add_project() defines it.
#pragma once

#include "dlnest/version.h"

/// The ELF section that holds the identity card, a text such as
/// "dlnest-plugin sdk_abi=2 sdk=0.1.0 torch=2.11.0".
#define DLNEST_PLUGIN_ABI_SECTION ".dlnest_abi"

#define DLNEST_PLUGIN_STR_(x) #x
#define DLNEST_PLUGIN_STR(x) DLNEST_PLUGIN_STR_(x)

/// Defines an identity card with the given versions (tests use it to fake another build).
#define DLNEST_PLUGIN_ABI_NOTE(sdk_abi, sdk_version, major, minor, patch)                       \
  extern "C" __attribute__((visibility("default"), used,                                        \
                            section(DLNEST_PLUGIN_ABI_SECTION))) const char                     \
      dlnest_plugin_abi_note[] = "dlnest-plugin sdk_abi=" DLNEST_PLUGIN_STR(sdk_abi)            \
      " sdk=" sdk_version " torch=" DLNEST_PLUGIN_STR(major) "." DLNEST_PLUGIN_STR(minor) "."   \
      DLNEST_PLUGIN_STR(patch);

/// Defines the plugin's identity card; used once per plugin (by dlnest_add_project).
#define DLNEST_DEFINE_PLUGIN_ABI()                                                 \
  DLNEST_PLUGIN_ABI_NOTE(DLNEST_SDK_ABI, DLNEST_SDK_VERSION, TORCH_VERSION_MAJOR, \
                         TORCH_VERSION_MINOR, TORCH_VERSION_PATCH)
