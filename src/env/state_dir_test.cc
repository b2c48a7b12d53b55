#include "env/state_dir.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <optional>
#include <string>

namespace dlnest {
namespace {

/// Sets (or, with nullptr, unsets) an environment variable for one test, then restores it.
class ScopedVariable {
 public:
  ScopedVariable(const char* name, const char* value) : name_(name) {
    if (const char* old = ::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedVariable() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(DefaultStateDir, IsUnderXdgStateHome) {
  ScopedVariable xdg("XDG_STATE_HOME", "/xdg/state");
  EXPECT_EQ(default_state_dir(), "/xdg/state/dlnest");
}

TEST(DefaultStateDir, FallsBackToHomeWithoutAnAbsoluteXdgStateHome) {
  ScopedVariable home("HOME", "/home/u");
  {
    ScopedVariable xdg("XDG_STATE_HOME", nullptr);
    EXPECT_EQ(default_state_dir(), "/home/u/.local/state/dlnest");
  }
  ScopedVariable relative("XDG_STATE_HOME", "relative/state");
  EXPECT_EQ(default_state_dir(), "/home/u/.local/state/dlnest");
}

}  // namespace
}  // namespace dlnest
