#include "env/path.h"

#include <gtest/gtest.h>

namespace dlnest::path {
namespace {

TEST(PathTest, JoinAddsOneSlash) {
  EXPECT_EQ(join("a/b", "c"), "a/b/c");
  EXPECT_EQ(join("a/b/", "c"), "a/b/c");
  EXPECT_EQ(join("/", "c"), "/c");
  EXPECT_EQ(join("a", "b/c.txt"), "a/b/c.txt");
}

TEST(PathTest, JoinKeepsAnAbsoluteRightSideOrAnEmptyLeftSide) {
  EXPECT_EQ(join("a/b", "/etc/x"), "/etc/x");
  EXPECT_EQ(join("", "c"), "c");
}

TEST(PathTest, ParentIsTheFolderPart) {
  EXPECT_EQ(parent("a/b/c"), "a/b");
  EXPECT_EQ(parent("/a/b"), "/a");
  EXPECT_EQ(parent("c"), ".");
  EXPECT_EQ(parent("/c"), "/");
  EXPECT_EQ(parent("/"), "/");
}

TEST(PathTest, BaseNameIsTheLastComponent) {
  EXPECT_EQ(base_name("a/b/c"), "c");
  EXPECT_EQ(base_name("/state_3.ckpt"), "state_3.ckpt");
  EXPECT_EQ(base_name("c"), "c");
  EXPECT_EQ(base_name("_desc: a/b"), "b");
}

TEST(PathTest, IsAbsolute) {
  EXPECT_TRUE(is_absolute("/a"));
  EXPECT_TRUE(is_absolute("/"));
  EXPECT_FALSE(is_absolute("a/b"));
  EXPECT_FALSE(is_absolute("./a"));
  EXPECT_FALSE(is_absolute(""));
}

TEST(PathTest, NormalizeRemovesDotsAndDuplicateSlashes) {
  EXPECT_EQ(normalize("a/./b//c/"), "a/b/c");
  EXPECT_EQ(normalize("/a//b/./"), "/a/b");
  EXPECT_EQ(normalize("./a"), "a");
  EXPECT_EQ(normalize("/"), "/");
  EXPECT_EQ(normalize("//"), "/");
}

TEST(PathTest, NormalizeFoldsParentComponents) {
  EXPECT_EQ(normalize("a/b/../c"), "a/c");
  EXPECT_EQ(normalize("/a/b/../../c"), "/c");
  EXPECT_EQ(normalize("a/.."), ".");
  EXPECT_EQ(normalize("a/../../b"), "../b");
  EXPECT_EQ(normalize("../../a"), "../../a");
  EXPECT_EQ(normalize("/../a"), "/a");
  EXPECT_EQ(normalize("/.."), "/");
}

TEST(PathTest, NormalizeOfNothingIsTheCurrentFolder) {
  EXPECT_EQ(normalize(""), ".");
  EXPECT_EQ(normalize("."), ".");
  EXPECT_EQ(normalize("./."), ".");
}

TEST(PathTest, RelativeInsideGivesThePathBelowTheBase) {
  EXPECT_EQ(relative_inside("/proj/Model/Net.h", "/proj"), "Model/Net.h");
  EXPECT_EQ(relative_inside("/proj/./Model/../utils/a.h", "/proj/"), "utils/a.h");
  EXPECT_EQ(relative_inside("a/b/c", "a"), "b/c");
  EXPECT_EQ(relative_inside("/etc/x", "/"), "etc/x");
  EXPECT_EQ(relative_inside("a/b", "."), "a/b");
}

TEST(PathTest, RelativeInsideIsEmptyOutsideTheBase) {
  EXPECT_EQ(relative_inside("/project/x", "/proj"), "");
  EXPECT_EQ(relative_inside("/proj", "/proj"), "");
  EXPECT_EQ(relative_inside("/proj/../x", "/proj"), "");
  EXPECT_EQ(relative_inside("/elsewhere/common.h", "/proj"), "");
  EXPECT_EQ(relative_inside("/", "/"), "");
  EXPECT_EQ(relative_inside("../a", "."), "");
  EXPECT_EQ(relative_inside("/a", "."), "");
  EXPECT_EQ(relative_inside(".", "."), "");
}

}  // namespace
}  // namespace dlnest::path
