#include "env/state_dir.h"

#include <stdlib.h>

namespace dlnest {

std::string default_state_dir() {
  const char* xdg = ::getenv("XDG_STATE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/dlnest";
  const char* home = ::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.local/state/dlnest";
}

}  // namespace dlnest
