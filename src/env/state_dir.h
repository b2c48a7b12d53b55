// Where DLNest keeps its state when no --state-dir is given: shared by the server, which keeps
// its database there, and the clients, which find the server's token there. Torch-free and
// SQLite-free.
#pragma once

#include <string>

namespace dlnest {

/// `$XDG_STATE_HOME/dlnest` when XDG_STATE_HOME is an absolute path, else
/// `$HOME/.local/state/dlnest`: the default `--state-dir`.
std::string default_state_dir();

}  // namespace dlnest
