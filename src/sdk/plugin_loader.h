// Loading a project plugin (the shared object a project builds) into the process that trains or
// analyzes it.
#pragma once

#include <string>

#include "dlnest/status.h"

namespace dlnest {

/// Loads `file` and checks that it was built against this worker's SDK and libtorch, before
/// anything of it is used; errors name the file and what does not match. The plugin stays
/// loaded for the life of the process, so every object it creates can outlive the call.
Status load_plugin(const std::string& file);

}  // namespace dlnest
