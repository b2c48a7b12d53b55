// The stage of a package build: a copy of a save package's sources inside the project's build
// cache, kept in step with the package file by file. A file is rewritten only when its bytes
// differ, so unchanged files keep their modification times and ninja recompiles only what
// changed.
#pragma once

#include <cstdint>
#include <string>

#include "dlnest/env.h"
#include "dlnest/status.h"

namespace dlnest {

/// A 64-bit FNV-1a digest built up piece by piece; each piece is length-prefixed, so ("ab", "c")
/// and ("a", "bc") differ.
class Digest {
 public:
  Digest& add(std::string_view piece);
  Digest& add(uint64_t number);
  /// 16 lower-case hex digits.
  std::string hex() const;

 private:
  uint64_t h_ = 1469598103934665603ull;
};

/// What stage_package() did.
struct StageSummary {
  std::string digest;  ///< of every staged file's path (relative to the stage) and bytes
  int files = 0;       ///< files staged
  int written = 0;     ///< files written because they were new or their bytes differed
  int removed = 0;     ///< entries removed because the package has no such entry
};

/// True for a name in a package's root folder that is a record of the package rather than a
/// source: args.json, names beginning with "_" (_package.json, _output.txt, "_desc: " markers),
/// Checkpoints/, the plugin, hidden names and temporary (".tmp") files.
bool is_package_record(const std::string& name);

/// Makes `stage_dir` (created when missing) hold exactly the sources of `package_dir`: every
/// file below it except the package's records (is_package_record), with the same layout and
/// bytes. Files whose bytes already match are left untouched; entries the package does not have
/// are removed.
Result<StageSummary> stage_package(Env* env, const std::string& package_dir,
                                   const std::string& stage_dir);

}  // namespace dlnest
