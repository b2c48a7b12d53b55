#include "dlnest/env.h"

#include <gtest/gtest.h>

#include "env/fault_injection_env.h"
#include "env/path.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using testing::TempDir;
using Op = FaultInjectionEnv::Op;

std::string read_or_error(Env* env, const std::string& file) {
  auto data = env->read_file(file);
  return data.is_ok() ? *data : data.status().to_string();
}

std::vector<std::string> list(Env* env, const std::string& dir) {
  auto names = env->list_dir(dir);
  EXPECT_TRUE(names.is_ok()) << names.status().to_string();
  return names.is_ok() ? *names : std::vector<std::string>{};
}

Status write(Env* env, const std::string& file, const std::string& contents) {
  auto out = env->new_writable_file(file);
  if (!out.is_ok()) return out.status();
  DLNEST_RETURN_IF_ERROR((*out)->append(contents));
  return (*out)->close();
}

/// Writes `file` and makes both its data and its directory entry durable.
void write_durably(Env* env, const std::string& file, const std::string& contents) {
  auto out = env->new_writable_file(file);
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  ASSERT_TRUE((*out)->append(contents).is_ok());
  ASSERT_TRUE((*out)->sync().is_ok());
  ASSERT_TRUE((*out)->close().is_ok());
  ASSERT_TRUE(env->sync_dir(path::parent(file)).is_ok());
}

void expect_error_naming(const Status& s, Status::Code code, const std::string& name) {
  EXPECT_EQ(s.code(), code) << s.to_string();
  EXPECT_NE(s.message().find(name), std::string::npos) << s.to_string();
}

class PosixEnvTest : public ::testing::Test {
 protected:
  Env* env_ = Env::default_env();
  TempDir dir_;
};

TEST_F(PosixEnvTest, WritesAndReadsAFileInSeveralAppends) {
  const std::string file = dir_.file("a.bin");
  auto out = env_->new_writable_file(file);
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_TRUE((*out)->append("first ").is_ok());
  EXPECT_TRUE((*out)->append(std::string("\0second", 7)).is_ok());
  EXPECT_TRUE((*out)->sync().is_ok());
  EXPECT_TRUE((*out)->close().is_ok());
  EXPECT_TRUE((*out)->close().is_ok());
  EXPECT_EQ(read_or_error(env_, file), std::string("first \0second", 13));
  EXPECT_TRUE(env_->file_exists(file));
  EXPECT_FALSE(env_->is_directory(file));
}

TEST_F(PosixEnvTest, ReadsAFileLargerThanOneBuffer) {
  std::string big(200000, 'x');
  for (size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(write(env_, dir_.file("big"), big).is_ok());
  EXPECT_EQ(read_or_error(env_, dir_.file("big")), big);
}

TEST_F(PosixEnvTest, NewWritableFileTruncates) {
  ASSERT_TRUE(write(env_, dir_.file("a"), "a long first version").is_ok());
  ASSERT_TRUE(write(env_, dir_.file("a"), "short").is_ok());
  EXPECT_EQ(read_or_error(env_, dir_.file("a")), "short");
}

TEST_F(PosixEnvTest, MissingFilesAreNotFoundNamingThePath) {
  const std::string missing = dir_.file("missing.txt");
  EXPECT_FALSE(env_->file_exists(missing));
  EXPECT_FALSE(env_->is_directory(missing));
  expect_error_naming(env_->read_file(missing).status(), Status::Code::kNotFound, missing);
  expect_error_naming(env_->remove_file(missing), Status::Code::kNotFound, missing);
  expect_error_naming(env_->list_dir(missing).status(), Status::Code::kNotFound, missing);
  expect_error_naming(env_->sync_dir(missing), Status::Code::kNotFound, missing);
  const std::string nested = dir_.file("no/such/dir/f");
  expect_error_naming(env_->new_writable_file(nested).status(), Status::Code::kNotFound, nested);
  const Status renamed = env_->rename_file(missing, dir_.file("to"));
  expect_error_naming(renamed, Status::Code::kNotFound, missing);
  EXPECT_NE(renamed.message().find(dir_.file("to")), std::string::npos) << renamed.to_string();
}

TEST_F(PosixEnvTest, ListDirGivesSortedNamesOfFilesAndFolders) {
  dir_.write("b.txt", "");
  dir_.write("a.txt", "");
  dir_.write("sub/c.txt", "");
  auto names = env_->list_dir(dir_.path());
  ASSERT_TRUE(names.is_ok()) << names.status().to_string();
  EXPECT_EQ(*names, (std::vector<std::string>{"a.txt", "b.txt", "sub"}));
  EXPECT_TRUE(env_->is_directory(dir_.file("sub")));
  EXPECT_TRUE(env_->file_exists(dir_.file("sub")));
}

TEST_F(PosixEnvTest, CreateDirsMakesParentsAndAcceptsExistingFolders) {
  const std::string deep = dir_.file("x/y/z");
  EXPECT_TRUE(env_->create_dirs(deep).is_ok());
  EXPECT_TRUE(env_->is_directory(deep));
  EXPECT_TRUE(env_->create_dirs(deep).is_ok());
  EXPECT_TRUE(env_->create_dirs(dir_.path()).is_ok());
}

TEST_F(PosixEnvTest, CreateDirIsAnExclusiveClaim) {
  const std::string claimed = dir_.file("2024-01-01_00-00-00_123");
  EXPECT_TRUE(env_->create_dir(claimed).is_ok());
  EXPECT_TRUE(env_->is_directory(claimed));
  expect_error_naming(env_->create_dir(claimed), Status::Code::kAlreadyExists, claimed);
  const std::string orphan = dir_.file("no/parent");
  expect_error_naming(env_->create_dir(orphan), Status::Code::kNotFound, orphan);
}

TEST_F(PosixEnvTest, RenameReplacesTheTarget) {
  ASSERT_TRUE(write(env_, dir_.file("new"), "new").is_ok());
  ASSERT_TRUE(write(env_, dir_.file("old"), "old").is_ok());
  EXPECT_TRUE(env_->rename_file(dir_.file("new"), dir_.file("old")).is_ok());
  EXPECT_FALSE(env_->file_exists(dir_.file("new")));
  EXPECT_EQ(read_or_error(env_, dir_.file("old")), "new");
  EXPECT_TRUE(env_->sync_dir(dir_.path()).is_ok());
}

TEST_F(PosixEnvTest, RemoveFileAndRemoveTree) {
  dir_.write("tree/a", "a");
  dir_.write("tree/sub/deeper/b", "b");
  dir_.write("single", "s");
  EXPECT_TRUE(env_->remove_file(dir_.file("tree/a")).is_ok());
  EXPECT_FALSE(env_->file_exists(dir_.file("tree/a")));
  EXPECT_TRUE(env_->remove_tree(dir_.file("tree")).is_ok());
  EXPECT_FALSE(env_->file_exists(dir_.file("tree")));
  EXPECT_TRUE(env_->remove_tree(dir_.file("single")).is_ok());
  EXPECT_FALSE(env_->file_exists(dir_.file("single")));
  expect_error_naming(env_->remove_tree(dir_.file("tree")), Status::Code::kNotFound,
                      dir_.file("tree"));
}

TEST_F(PosixEnvTest, WriteFileAtomicallyReplacesContentsAndLeavesNoTempFile) {
  const std::string file = dir_.file("_package.json");
  ASSERT_TRUE(write_file_atomically(env_, file, "old").is_ok());
  ASSERT_TRUE(write_file_atomically(env_, file, [](WritableFile& out) {
                DLNEST_RETURN_IF_ERROR(out.append("n"));
                return out.append("ew");
              }).is_ok());
  EXPECT_EQ(read_or_error(env_, file), "new");
  EXPECT_EQ(list(env_, dir_.path()), std::vector<std::string>{"_package.json"});
}

TEST_F(PosixEnvTest, WriteFileAtomicallyKeepsTheOldFileWhenTheWriterFails) {
  const std::string file = dir_.file("state_0.ckpt");
  ASSERT_TRUE(write_file_atomically(env_, file, "old").is_ok());
  const Status s = write_file_atomically(env_, file, [](WritableFile& out) {
    DLNEST_RETURN_IF_ERROR(out.append("partial"));
    return Status::io_error("serialiser failed");
  });
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_EQ(s.message(), "serialiser failed");
  EXPECT_EQ(read_or_error(env_, file), "old");
  EXPECT_EQ(list(env_, dir_.path()), std::vector<std::string>{"state_0.ckpt"});
}

TEST_F(PosixEnvTest, CopyTreeCopiesFoldersRecursivelyAndSingleFiles) {
  dir_.write("src/a.h", "a");
  dir_.write("src/deep/er/b.h", "b");
  dir_.write("one.txt", "one");
  ASSERT_TRUE(copy_tree(env_, dir_.file("src"), dir_.file("dst/src")).is_ok());
  ASSERT_TRUE(copy_tree(env_, dir_.file("one.txt"), dir_.file("dst/x/one.txt")).is_ok());
  EXPECT_EQ(read_or_error(env_, dir_.file("dst/src/a.h")), "a");
  EXPECT_EQ(read_or_error(env_, dir_.file("dst/src/deep/er/b.h")), "b");
  EXPECT_EQ(read_or_error(env_, dir_.file("dst/x/one.txt")), "one");
  expect_error_naming(copy_tree(env_, dir_.file("nope"), dir_.file("dst/nope")),
                      Status::Code::kNotFound, dir_.file("nope"));
}

class FaultInjectionEnvTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(env_.create_dirs("/pkg/Checkpoints").is_ok()); }

  FaultInjectionEnv env_;
};

TEST_F(FaultInjectionEnvTest, BehavesLikeAFileSystemUntilACrash) {
  ASSERT_TRUE(write(&env_, "/pkg/a", "a").is_ok());
  EXPECT_EQ(read_or_error(&env_, "/pkg/a"), "a");
  EXPECT_TRUE(env_.file_exists("/pkg/a"));
  EXPECT_TRUE(env_.is_directory("/pkg"));
  EXPECT_FALSE(env_.is_directory("/pkg/a"));
  EXPECT_EQ(list(&env_, "/pkg"), (std::vector<std::string>{"Checkpoints", "a"}));
  EXPECT_TRUE(env_.rename_file("/pkg/a", "/pkg/Checkpoints/b").is_ok());
  EXPECT_EQ(read_or_error(&env_, "/pkg/Checkpoints/b"), "a");
  EXPECT_FALSE(env_.file_exists("/pkg/a"));
  EXPECT_TRUE(env_.remove_file("/pkg/Checkpoints/b").is_ok());
  EXPECT_FALSE(env_.file_exists("/pkg/Checkpoints/b"));
  expect_error_naming(env_.read_file("/pkg/x").status(), Status::Code::kNotFound, "/pkg/x");
  expect_error_naming(env_.create_dir("/pkg"), Status::Code::kAlreadyExists, "/pkg");
  expect_error_naming(env_.new_writable_file("/none/f").status(), Status::Code::kNotFound,
                      "/none/f");
}

TEST_F(FaultInjectionEnvTest, CrashLosesUnsyncedData) {
  write_durably(&env_, "/pkg/f", "synced");
  auto out = env_.new_writable_file("/pkg/g");
  ASSERT_TRUE(out.is_ok());
  ASSERT_TRUE((*out)->append("data").is_ok());
  ASSERT_TRUE(env_.sync_dir("/pkg").is_ok());
  env_.crash();
  EXPECT_EQ(read_or_error(&env_, "/pkg/f"), "synced");
  EXPECT_EQ(read_or_error(&env_, "/pkg/g"), "");
}

TEST_F(FaultInjectionEnvTest, CrashLosesAppendsAfterTheLastSync) {
  auto out = env_.new_writable_file("/pkg/f");
  ASSERT_TRUE(out.is_ok());
  ASSERT_TRUE((*out)->append("kept").is_ok());
  ASSERT_TRUE((*out)->sync().is_ok());
  ASSERT_TRUE((*out)->append(" lost").is_ok());
  ASSERT_TRUE(env_.sync_dir("/pkg").is_ok());
  EXPECT_EQ(read_or_error(&env_, "/pkg/f"), "kept lost");
  env_.crash();
  EXPECT_EQ(read_or_error(&env_, "/pkg/f"), "kept");
  expect_error_naming((*out)->append("more"), Status::Code::kIOError, "/pkg/f");
  expect_error_naming((*out)->sync(), Status::Code::kIOError, "/pkg/f");
}

TEST_F(FaultInjectionEnvTest, CrashForgetsASyncedFileWhoseFolderWasNotSynced) {
  auto out = env_.new_writable_file("/pkg/f");
  ASSERT_TRUE(out.is_ok());
  ASSERT_TRUE((*out)->append("data").is_ok());
  ASSERT_TRUE((*out)->sync().is_ok());
  ASSERT_TRUE((*out)->close().is_ok());
  env_.crash();
  EXPECT_FALSE(env_.file_exists("/pkg/f"));
}

TEST_F(FaultInjectionEnvTest, CrashUndoesAnUnsyncedRename) {
  write_durably(&env_, "/pkg/f.tmp", "new");
  write_durably(&env_, "/pkg/f", "old");
  ASSERT_TRUE(env_.rename_file("/pkg/f.tmp", "/pkg/f").is_ok());
  EXPECT_EQ(read_or_error(&env_, "/pkg/f"), "new");
  env_.crash();
  EXPECT_EQ(read_or_error(&env_, "/pkg/f"), "old");
  EXPECT_EQ(read_or_error(&env_, "/pkg/f.tmp"), "new");
}

TEST_F(FaultInjectionEnvTest, SyncDirMakesARenameDurable) {
  write_durably(&env_, "/pkg/f.tmp", "new");
  write_durably(&env_, "/pkg/f", "old");
  ASSERT_TRUE(env_.rename_file("/pkg/f.tmp", "/pkg/f").is_ok());
  ASSERT_TRUE(env_.sync_dir("/pkg").is_ok());
  env_.crash();
  EXPECT_EQ(read_or_error(&env_, "/pkg/f"), "new");
  EXPECT_FALSE(env_.file_exists("/pkg/f.tmp"));
}

TEST_F(FaultInjectionEnvTest, SyncDirCoversOnlyItsOwnFolder) {
  write_durably(&env_, "/pkg/Checkpoints/a", "a");
  write_durably(&env_, "/pkg/b", "b");
  ASSERT_TRUE(env_.rename_file("/pkg/Checkpoints/a", "/pkg/a").is_ok());
  ASSERT_TRUE(env_.remove_file("/pkg/b").is_ok());
  ASSERT_TRUE(env_.sync_dir("/pkg/Checkpoints").is_ok());
  env_.crash();
  EXPECT_FALSE(env_.file_exists("/pkg/Checkpoints/a"));
  EXPECT_FALSE(env_.file_exists("/pkg/a"));
  EXPECT_EQ(read_or_error(&env_, "/pkg/b"), "b");
}

TEST_F(FaultInjectionEnvTest, CrashUndoesAnUnsyncedRemoval) {
  write_durably(&env_, "/pkg/f", "f");
  ASSERT_TRUE(env_.remove_file("/pkg/f").is_ok());
  env_.crash();
  EXPECT_EQ(read_or_error(&env_, "/pkg/f"), "f");
  ASSERT_TRUE(env_.remove_file("/pkg/f").is_ok());
  ASSERT_TRUE(env_.sync_dir("/pkg").is_ok());
  env_.crash();
  EXPECT_FALSE(env_.file_exists("/pkg/f"));
}

TEST_F(FaultInjectionEnvTest, FoldersAreDurableOnceCreated) {
  ASSERT_TRUE(env_.create_dir("/pkg/claimed").is_ok());
  ASSERT_TRUE(env_.create_dirs("/other/deep").is_ok());
  env_.crash();
  EXPECT_TRUE(env_.is_directory("/pkg/claimed"));
  EXPECT_TRUE(env_.is_directory("/other/deep"));
  EXPECT_EQ(list(&env_, "/pkg"), (std::vector<std::string>{"Checkpoints", "claimed"}));
}

TEST_F(FaultInjectionEnvTest, RemoveTreeRemovesEverythingBelow) {
  write_durably(&env_, "/pkg/Checkpoints/state_0.ckpt", "0");
  ASSERT_TRUE(env_.create_dirs("/pkg/src/deep").is_ok());
  ASSERT_TRUE(env_.create_dirs("/pkgs").is_ok());
  ASSERT_TRUE(env_.remove_tree("/pkg").is_ok());
  EXPECT_FALSE(env_.file_exists("/pkg"));
  EXPECT_FALSE(env_.file_exists("/pkg/Checkpoints/state_0.ckpt"));
  EXPECT_FALSE(env_.is_directory("/pkg/src/deep"));
  EXPECT_TRUE(env_.is_directory("/pkgs"));
}

TEST_F(FaultInjectionEnvTest, FailNthFailsOnlyThatOperation) {
  env_.fail_nth(Op::kAppend, 2);
  auto out = env_.new_writable_file("/pkg/f");
  ASSERT_TRUE(out.is_ok());
  EXPECT_TRUE((*out)->append("1").is_ok());
  expect_error_naming((*out)->append("2"), Status::Code::kIOError, "/pkg/f");
  EXPECT_TRUE((*out)->append("3").is_ok());
  EXPECT_EQ(read_or_error(&env_, "/pkg/f"), "13");

  env_.fail_nth(Op::kRename, 1);
  expect_error_naming(env_.rename_file("/pkg/f", "/pkg/g"), Status::Code::kIOError, "/pkg/f");
  EXPECT_TRUE(env_.file_exists("/pkg/f"));
  EXPECT_TRUE(env_.rename_file("/pkg/f", "/pkg/g").is_ok());

  env_.fail_nth(Op::kSyncDir, 1);
  expect_error_naming(env_.sync_dir("/pkg"), Status::Code::kIOError, "/pkg");
  env_.fail_nth(Op::kRemove, 1);
  EXPECT_FALSE(env_.remove_file("/pkg/g").is_ok());
  EXPECT_TRUE(env_.file_exists("/pkg/g"));
  env_.fail_nth(Op::kCreate, 1);
  EXPECT_FALSE(env_.new_writable_file("/pkg/h").is_ok());
  EXPECT_FALSE(env_.file_exists("/pkg/h"));
}

TEST_F(FaultInjectionEnvTest, FreezeAfterLetsNOperationsThroughAndCountsThemAll) {
  const int before = env_.mutating_ops();
  env_.freeze_after(2);
  auto out = env_.new_writable_file("/pkg/f");
  ASSERT_TRUE(out.is_ok());
  EXPECT_TRUE((*out)->append("a").is_ok());
  EXPECT_FALSE((*out)->sync().is_ok());
  EXPECT_FALSE((*out)->close().is_ok());
  EXPECT_FALSE(env_.sync_dir("/pkg").is_ok());
  EXPECT_EQ(env_.mutating_ops() - before, 5);
  env_.clear_faults();
  EXPECT_TRUE(env_.sync_dir("/pkg").is_ok());
  env_.freeze_after(0);
  EXPECT_FALSE(env_.sync_dir("/pkg").is_ok());
  env_.crash();
  EXPECT_TRUE(env_.sync_dir("/pkg").is_ok());
}

}  // namespace
}  // namespace dlnest
