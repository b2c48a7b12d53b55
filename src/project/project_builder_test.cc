// Where binaries find DLNest's CMake package, templates and toolchain: below their own prefix,
// the same in the build tree as in an installation, each folder overridable by the environment.
#include "project/project_builder.h"

#include <gtest/gtest.h>

#include "dlnest/env.h"
#include "env/path.h"
#include "testing/scoped_env.h"

namespace dlnest {
namespace {

TEST(InstallLayoutTest, FoldersBelowAPrefix) {
  const InstallLayout layout = InstallLayout::under("/opt/dlnest");
  EXPECT_EQ(layout.cmake_dir, "/opt/dlnest/lib/cmake/DLNest");
  EXPECT_EQ(layout.template_dir, "/opt/dlnest/share/dlnest/templates");
  EXPECT_EQ(layout.toolchain_dir, "/opt/dlnest/share/dlnest/toolchain");
}

TEST(InstallLayoutTest, ThisBuildTreeHasTheLayoutOfAnInstallation) {
  testing::ScopedEnv cmake("DLNEST_CMAKE_DIR", nullptr);
  testing::ScopedEnv templates("DLNEST_TEMPLATE_DIR", nullptr);
  testing::ScopedEnv toolchain("DLNEST_TOOLCHAIN_DIR", nullptr);
  const InstallLayout layout = install_layout();
  Env* env = Env::default_env();
  EXPECT_TRUE(env->file_exists(path::join(layout.cmake_dir, "DLNestConfig.cmake")))
      << layout.cmake_dir;
  EXPECT_TRUE(env->file_exists(path::join(layout.template_dir, "mnist/root_config.json")))
      << layout.template_dir;
  EXPECT_TRUE(env->file_exists(path::join(layout.toolchain_dir, "script_flags.txt")))
      << layout.toolchain_dir;
}

TEST(InstallLayoutTest, TheEnvironmentOverridesEachFolder) {
  testing::ScopedEnv cmake("DLNEST_CMAKE_DIR", "/a");
  testing::ScopedEnv templates("DLNEST_TEMPLATE_DIR", "/b");
  testing::ScopedEnv toolchain("DLNEST_TOOLCHAIN_DIR", "/c");
  const InstallLayout layout = install_layout();
  EXPECT_EQ(layout.cmake_dir, "/a");
  EXPECT_EQ(layout.template_dir, "/b");
  EXPECT_EQ(layout.toolchain_dir, "/c");
  EXPECT_EQ(default_dlnest_cmake_dir(), "/a");
  EXPECT_EQ(default_template_dir(), "/b");
}

}  // namespace
}  // namespace dlnest
