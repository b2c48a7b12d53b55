#include "testing/temp_dir.h"

#include <stdlib.h>

#include <stdexcept>

#include "dlnest/env.h"
#include "env/path.h"

namespace dlnest::testing {

TempDir::TempDir() {
  const char* base = ::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/dlnest_test_XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() { Env::default_env()->remove_tree(path_); }

std::string TempDir::file(const std::string& rel) const { return path::join(path_, rel); }

std::string TempDir::write(const std::string& rel, const std::string& contents) const {
  const std::string target = file(rel);
  Env* env = Env::default_env();
  Status s = env->create_dirs(path::parent(target));
  if (s.is_ok()) s = write_file_atomically(env, target, contents);
  if (!s.is_ok()) throw std::runtime_error(s.to_string());
  return target;
}

}  // namespace dlnest::testing
