// Reading one JSON object from a file, with compiler-style errors ("file:line:col: ...").
#pragma once

#include <string>

#include "dlnest/config.h"

namespace dlnest {

/// Parses `file` as a JSON object. The file is read with Env::read_bounded_file: a regular file
/// of at most kMaxConfigFileBytes, inside the folder `within` when that is not empty. Syntax
/// errors name the file, line and column and never quote the file's content.
Result<Json> read_json_object(Env* env, const std::string& file, const std::string& within = "");

}  // namespace dlnest
