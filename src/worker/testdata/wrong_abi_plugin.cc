// A plugin that claims to be built against another libtorch, for the worker's refusal test. Its
// static initializer leaves a mark in the file WRONG_ABI_MARK names, should it ever run.
#include <cstdlib>
#include <fstream>

#include "dlnest/plugin.h"

DLNEST_PLUGIN_ABI_NOTE(DLNEST_SDK_ABI, DLNEST_SDK_VERSION, 99, 1, 0)

namespace {

struct Mark {
  Mark() {
    if (const char* file = std::getenv("WRONG_ABI_MARK")) std::ofstream(file) << "ran\n";
  }
} mark;

}  // namespace
