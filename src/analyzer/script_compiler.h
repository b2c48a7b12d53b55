// Compiling analysis scripts: `<scripts dir>/NAME.cpp` is compiled into a shared object with the
// SDK's flags and precompiled header, cached by content, and loaded. Torch-free.
#pragma once

#include <string>
#include <vector>

#include "dlnest/status.h"

namespace dlnest {

/// How scripts are compiled: written by the DLNest build into <build>/analyze/.
struct ScriptToolchain {
  std::string compiler;
  std::vector<std::string> flags;
  std::string pch_header;  ///< passed with -include; its .gch beside it makes it precompiled

  /// Reads `<dir>/script_flags.txt` (the compiler on the first line, then one flag per line) and
  /// finds `<dir>/dlnest_script.h`. Errors name the missing file.
  static Result<ScriptToolchain> load(const std::string& dir);
};

/// The toolchain folder of this installation or build tree (install_layout()).
std::string default_script_toolchain_dir();

struct CompiledScript {
  std::string library;   ///< the shared object
  bool cached = false;   ///< it was compiled before and nothing it depends on changed
  double seconds = 0;    ///< time spent compiling (0 when cached)
};

class ScriptCompiler {
 public:
  ScriptCompiler(ScriptToolchain toolchain, std::string cache_dir)
      : toolchain_(std::move(toolchain)), cache_dir_(std::move(cache_dir)) {}

  /// `<scripts_dir>/<name>.cpp` (".cpp" may be given). A name that is not a plain file name
  /// (a path, "..", hidden, odd characters) is refused, and so is a missing file.
  static Result<std::string> resolve(const std::string& scripts_dir, const std::string& name);

  /// Compiles `source`, or returns the cached library when the script and every file it includes
  /// are unchanged. A compile error comes back with the compiler's messages.
  Result<CompiledScript> compile(const std::string& source) const;

 private:
  ScriptToolchain toolchain_;
  std::string cache_dir_;
};

/// Loads `library` and returns its `dlnest_experiment_v1`; errors name the file and say what is
/// missing. The library stays loaded for the life of the process.
Result<void*> load_experiment(const std::string& library);

}  // namespace dlnest
