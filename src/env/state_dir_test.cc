#include "env/state_dir.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <optional>
#include <string>

#include "testing/scoped_env.h"

namespace dlnest {
namespace {

TEST(DefaultStateDir, IsUnderXdgStateHome) {
  testing::ScopedEnv xdg("XDG_STATE_HOME", "/xdg/state");
  EXPECT_EQ(default_state_dir(), "/xdg/state/dlnest");
}

TEST(DefaultStateDir, FallsBackToHomeWithoutAnAbsoluteXdgStateHome) {
  testing::ScopedEnv home("HOME", "/home/u");
  {
    testing::ScopedEnv xdg("XDG_STATE_HOME", nullptr);
    EXPECT_EQ(default_state_dir(), "/home/u/.local/state/dlnest");
  }
  testing::ScopedEnv relative("XDG_STATE_HOME", "relative/state");
  EXPECT_EQ(default_state_dir(), "/home/u/.local/state/dlnest");
}

}  // namespace
}  // namespace dlnest
