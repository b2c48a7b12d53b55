// Reading one JSON object from a file, with compiler-style errors ("file:line:col: ...").
#pragma once

#include <string>

#include "dlnest/config.h"

namespace dlnest {

/// Parses `file` as a JSON object. Syntax errors name the file, line and column.
Result<Json> read_json_object(Env* env, const std::string& file);

}  // namespace dlnest
