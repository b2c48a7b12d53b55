// The stage of a package build, on real files: what is staged, what is left untouched (times
// included), what is removed, and what the digest follows.
#include "project/source_stage.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "env/path.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using testing::TempDir;

/// Every file below `dir`, relative to it, sorted.
std::vector<std::string> files_below(const std::string& dir, const std::string& rel = "") {
  Env* env = Env::default_env();
  std::vector<std::string> out;
  auto names = env->list_dir(rel.empty() ? dir : path::join(dir, rel));
  if (!names.is_ok()) return out;
  for (const std::string& name : *names) {
    const std::string child = rel.empty() ? name : rel + "/" + name;
    if (env->is_directory(path::join(dir, child))) {
      for (std::string& f : files_below(dir, child)) out.push_back(std::move(f));
    } else {
      out.push_back(child);
    }
  }
  return out;
}

int64_t mtime_ns(const std::string& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return -1;
  return st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec;
}

/// Sets a file's times to 2001-09-09, long before any write the test makes.
void make_old(const std::string& file) {
  const struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), old, 0), 0) << file;
}

class SourceStageTest : public ::testing::Test {
 protected:
  SourceStageTest() {
    dir_.write("package/CMakeLists.txt", "project(p)\n");
    dir_.write("package/runner.cpp", "int runner;\n");
    dir_.write("package/Model/net.h", "struct Net;\n");
  }

  Result<StageSummary> stage() { return stage_package(Env::default_env(), package(), stage_dir()); }
  std::string package() const { return dir_.file("package"); }
  std::string stage_dir() const { return dir_.file("stage"); }

  TempDir dir_;
};

TEST_F(SourceStageTest, StagesTheSourcesButNotThePackagesRecords) {
  for (const char* record :
       {"args.json", "_package.json", "_output.txt", "_desc: baseline", "Checkpoints/state_0.ckpt",
        "dlnest_plugin.so", "dlnest_plugin.so.tmp", "args.json.tmp", ".dlnest/build/x"}) {
    dir_.write(std::string("package/") + record, "record");
  }
  dir_.write("package/Model/_kept.h", "below the root, a leading _ is a source\n");
  auto summary = stage();
  ASSERT_TRUE(summary.is_ok()) << summary.status().to_string();
  const std::vector<std::string> expected = {"CMakeLists.txt", "Model/_kept.h", "Model/net.h",
                                             "runner.cpp"};
  EXPECT_EQ(files_below(stage_dir()), expected);
  EXPECT_EQ(summary->files, 4);
  EXPECT_EQ(summary->written, 4);
  EXPECT_EQ(*Env::default_env()->read_file(path::join(stage_dir(), "Model/net.h")),
            "struct Net;\n");
}

TEST_F(SourceStageTest, RewritesOnlyTheFilesThatChanged) {
  ASSERT_TRUE(stage().is_ok());
  for (const std::string& f : files_below(stage_dir())) make_old(path::join(stage_dir(), f));
  dir_.write("package/runner.cpp", "int runner = 2;\n");
  auto summary = stage();
  ASSERT_TRUE(summary.is_ok()) << summary.status().to_string();
  EXPECT_EQ(summary->written, 1);
  EXPECT_EQ(summary->removed, 0);
  EXPECT_EQ(mtime_ns(path::join(stage_dir(), "Model/net.h")), 1000000000ll * 1000000000ll);
  EXPECT_EQ(mtime_ns(path::join(stage_dir(), "CMakeLists.txt")), 1000000000ll * 1000000000ll);
  EXPECT_GT(mtime_ns(path::join(stage_dir(), "runner.cpp")), 1000000000ll * 1000000000ll);
  EXPECT_EQ(*Env::default_env()->read_file(path::join(stage_dir(), "runner.cpp")),
            "int runner = 2;\n");
}

TEST_F(SourceStageTest, RemovesWhatThePackageDoesNotHave) {
  dir_.write("package/extra.cpp", "int extra;\n");
  dir_.write("package/Data/a.txt", "a\n");
  ASSERT_TRUE(stage().is_ok());
  Env* env = Env::default_env();
  ASSERT_TRUE(env->remove_file(dir_.file("package/extra.cpp")).is_ok());
  ASSERT_TRUE(env->remove_tree(dir_.file("package/Data")).is_ok());
  // A file that became a folder and a folder that became a file.
  ASSERT_TRUE(env->remove_file(dir_.file("package/runner.cpp")).is_ok());
  dir_.write("package/runner.cpp/inside.cpp", "int inside;\n");
  ASSERT_TRUE(env->remove_tree(dir_.file("package/Model")).is_ok());
  dir_.write("package/Model", "now a file\n");
  auto summary = stage();
  ASSERT_TRUE(summary.is_ok()) << summary.status().to_string();
  EXPECT_EQ(summary->removed, 2);
  const std::vector<std::string> expected = {"CMakeLists.txt", "Model", "runner.cpp/inside.cpp"};
  EXPECT_EQ(files_below(stage_dir()), expected);
}

TEST_F(SourceStageTest, TheDigestFollowsPathsAndBytesOnly) {
  auto first = stage();
  ASSERT_TRUE(first.is_ok());
  dir_.write("package/args.json", "{\"seed\": 7}");
  dir_.write("package/_output.txt", "[build] ...\n");
  auto records_only = stage();
  ASSERT_TRUE(records_only.is_ok());
  EXPECT_EQ(records_only->digest, first->digest);

  dir_.write("package/runner.cpp", "int runner;\n ");
  auto one_byte = stage();
  ASSERT_TRUE(one_byte.is_ok());
  EXPECT_NE(one_byte->digest, first->digest);

  dir_.write("package/runner.cpp", "int runner;\n");
  Env* env = Env::default_env();
  ASSERT_TRUE(env->rename_file(dir_.file("package/Model/net.h"), dir_.file("package/Model/nets.h"))
                  .is_ok());
  auto renamed = stage();
  ASSERT_TRUE(renamed.is_ok());
  EXPECT_NE(renamed->digest, first->digest);

  ASSERT_TRUE(env->rename_file(dir_.file("package/Model/nets.h"), dir_.file("package/Model/net.h"))
                  .is_ok());
  auto back = stage();
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->digest, first->digest);
}

TEST_F(SourceStageTest, AMissingPackageIsNamed) {
  auto summary = stage_package(Env::default_env(), dir_.file("nope"), stage_dir());
  ASSERT_FALSE(summary.is_ok());
  EXPECT_EQ(summary.status().message(), "save package " + dir_.file("nope") + ": no such folder");
}

TEST(DigestTest, PiecesAreLengthPrefixed) {
  EXPECT_NE(Digest().add("ab").add("c").hex(), Digest().add("a").add("bc").hex());
  EXPECT_EQ(Digest().add("ab").hex(), Digest().add("ab").hex());
  EXPECT_EQ(Digest().hex().size(), 16u);
}

}  // namespace
}  // namespace dlnest
