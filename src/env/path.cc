#include "env/path.h"

#include <unistd.h>

#include <vector>

namespace dlnest::path {

std::string join(const std::string& lhs, const std::string& rhs) {
  if (lhs.empty() || is_absolute(rhs)) return rhs;
  if (lhs.back() == '/') return lhs + rhs;
  return lhs + "/" + rhs;
}

std::string parent(const std::string& p) {
  const auto slash = p.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return p.substr(0, slash);
}

std::string base_name(const std::string& p) {
  const auto slash = p.find_last_of('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

bool is_absolute(const std::string& p) { return !p.empty() && p[0] == '/'; }

std::string absolute(const std::string& p) {
  if (is_absolute(p)) return normalize(p);
  char buf[4096];
  const char* cwd = ::getcwd(buf, sizeof buf);
  return normalize(join(cwd != nullptr ? cwd : "/", p));
}

std::string normalize(const std::string& p) {
  std::vector<std::string> parts;
  std::string part;
  auto flush = [&]() {
    if (part.empty() || part == ".") {
    } else if (part == ".." && !parts.empty() && parts.back() != "..") {
      parts.pop_back();
    } else if (!(part == ".." && is_absolute(p))) {
      parts.push_back(part);
    }
    part.clear();
  };
  for (char c : p) {
    if (c == '/') {
      flush();
    } else {
      part += c;
    }
  }
  flush();
  std::string out = is_absolute(p) ? "/" : "";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  return out.empty() ? "." : out;
}

std::string relative_inside(const std::string& p, const std::string& base) {
  const std::string np = normalize(p);
  const std::string nb = normalize(base);
  if (nb == "/") return np.size() > 1 ? np.substr(1) : "";
  if (nb == ".") {
    const bool outside = is_absolute(np) || np == "." || np == ".." || np.compare(0, 3, "../") == 0;
    return outside ? "" : np;
  }
  if (np.size() <= nb.size() || np.compare(0, nb.size(), nb) != 0 || np[nb.size()] != '/') {
    return "";
  }
  return np.substr(nb.size() + 1);
}

}  // namespace dlnest::path
