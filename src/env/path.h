// Lexical path helpers shared by every Env implementation (no filesystem access).
#pragma once

#include <string>

namespace dlnest::path {

/// "a/b" + "c" -> "a/b/c"; an absolute `rhs` is returned as is.
std::string join(const std::string& lhs, const std::string& rhs);
/// The folder part: "a/b/c" -> "a/b", "c" -> ".", "/c" -> "/".
std::string parent(const std::string& p);
/// The last component: "a/b/c" -> "c".
std::string base_name(const std::string& p);
bool is_absolute(const std::string& p);
/// `p` joined to the current directory when relative, normalized.
std::string absolute(const std::string& p);
/// Removes "." components, folds ".." where possible and duplicate slashes.
std::string normalize(const std::string& p);
/// `p` relative to `base` when `p` lies inside `base` (both normalized), else "".
std::string relative_inside(const std::string& p, const std::string& base);

}  // namespace dlnest::path
