// The part of Python's str.format that plugin options use ("\t| {} : {:.6f}"), so that the
// original DLNest's SimpleCMDVisualize formats keep working: replacement fields `{}`, `{N}`
// and `{:spec}` with [[fill]align][sign][0][width][.precision][type] (types s d f F e E g G %),
// and `{{` / `}}`.
#pragma once

#include <string>
#include <vector>

#include "dlnest/config.h"  // Json
#include "dlnest/status.h"

namespace dlnest {

/// `pattern` with its fields replaced by `values` (strings as they are, numbers as Python
/// prints them, null as None). An error says what in the pattern is wrong, as Python's would.
Result<std::string> python_format(const std::string& pattern, const std::vector<Json>& values);

}  // namespace dlnest
