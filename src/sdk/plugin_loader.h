// Loading a project plugin (the shared object a project builds) into the process that trains or
// analyzes it.
#pragma once

#include <string>

#include "dlnest/status.h"

namespace dlnest {

/// Loads `file` once the identity card in its file says it was built against this worker's SDK
/// ABI and libtorch release: a mismatched plugin is refused before any of its code runs (its
/// static registrations included). Errors name the file and what does not match. The plugin stays
/// loaded for the life of the process, so every object it creates can outlive the call.
Status load_plugin(const std::string& file);

}  // namespace dlnest
