// The build stage's progress from the build's output: the phases of build_package() and ninja's
// "[n/m]" lines, fed in pieces of any size, and the record written at the end.
#include "project/build_progress.h"

#include <gtest/gtest.h>

#include "dlnest/env.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

BuildProgress at_noon(ProgressFile* file = nullptr) {
  return BuildProgress(file, 7, [] { return 1700000000.0; });
}

TEST(BuildProgressTest, PhasesAndNinjasCountsInPiecesOfAnySize) {
  BuildProgress p = at_noon();
  p.start();
  EXPECT_EQ(p.record(), Json::parse(R"({"stage": "build", "phase": "staging", "done": null,
      "total": null, "fraction": null, "updated_at": 1700000000.0, "pid": 7})"));
  p.feed("[build] staged 5 files of /p in /x/stage (5 written, 0 removed)\n[build] config");
  EXPECT_EQ(p.record()["phase"], "staged");
  p.feed("uring /x/stage in /x/build\n-- The CXX compiler identification is GNU 12.2.0\n");
  EXPECT_EQ(p.record()["phase"], "configuring");
  p.feed("-- Configuring done\n[build] compiling in /x/build\n[1/4] Building CXX object a.o\n[2/");
  Json r = p.record();
  EXPECT_EQ(r["phase"], "compiling");
  EXPECT_EQ(r["done"], 1);
  EXPECT_EQ(r["total"], 4);
  EXPECT_DOUBLE_EQ(r["fraction"].get<double>(), 0.25);
  p.feed("4] Building CXX object b.o\n[3/4] Linking CXX shared module plugin.so\n");
  EXPECT_DOUBLE_EQ(p.record()["fraction"].get<double>(), 0.75);
  // Compiler output that looks a little like a count does not move it.
  p.feed("[x/4] note\n[5/4] nonsense\n[9999999999999999999/3] overflow\n");
  EXPECT_EQ(p.record()["done"], 3);
  p.finish(true);
  r = p.record();
  EXPECT_EQ(r["phase"], "built");
  EXPECT_EQ(r["done"], 4);
  EXPECT_EQ(r["fraction"], 1.0);
}

TEST(BuildProgressTest, AnUpToDateBuildIsDone) {
  BuildProgress p = at_noon();
  p.feed("[build] up to date, reusing /x/plugin.so\n");
  EXPECT_EQ(p.record()["phase"], "up to date");
  EXPECT_EQ(p.record()["fraction"], 1.0);
  p.feed("[build] waiting for another build of /x\n");
  EXPECT_EQ(p.record()["phase"], "waiting for another build");
}

TEST(BuildProgressTest, AFailedBuildEndsAsFailedInTheFile) {
  testing::TempDir dir;
  ProgressFile file(dir.path());
  BuildProgress p = at_noon(&file);
  p.start();
  p.feed("[build] compiling in /x/build\n[1/3] Building CXX object a.o\nFAILED: a.o\n");
  p.finish(false);
  const Json written = Json::parse(*Env::default_env()->read_file(dir.file("progress.json")));
  EXPECT_EQ(written["stage"], "failed");
  EXPECT_EQ(written["phase"], "build failed");
  EXPECT_EQ(written["done"], 1);
  EXPECT_EQ(written["total"], 3);
  EXPECT_EQ(written["pid"], 7);
}

}  // namespace
}  // namespace dlnest
