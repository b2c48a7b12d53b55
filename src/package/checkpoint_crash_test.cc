// Crash safety of the checkpoint store and of write_file_atomically: a simulated power cut after
// every single mutating operation, and a failure injected into each step of a save.
#include <gtest/gtest.h>

#include <algorithm>

#include "dlnest/checkpoint_store.h"
#include "env/fault_injection_env.h"
#include "env/path.h"

namespace dlnest {
namespace {

using Op = FaultInjectionEnv::Op;

constexpr const char* kPackage = "/saves/pkg";

/// Two fast, one slow for every second id, one consistent: a save both adds and drops files.
const CheckpointArgs kArgs{1, 2, 2, 1};

std::string bytes_of(int id) {
  return "checkpoint " + std::to_string(id) + ":" + std::string(100 + id, 'x');
}

std::string checkpoint_dir() {
  return path::join(kPackage, CheckpointStore::kCheckpointDir);
}

std::string index_file() {
  return path::join(kPackage, CheckpointStore::kIndexFile);
}

bool is_temp(const std::string& name) {
  return name.size() >= kTempSuffix.size() &&
         name.compare(name.size() - kTempSuffix.size(), kTempSuffix.size(), kTempSuffix) == 0;
}

std::vector<std::string> list(Env& env, const std::string& dir) {
  auto names = env.list_dir(dir);
  EXPECT_TRUE(names.is_ok()) << names.status().to_string();
  return names.is_ok() ? *names : std::vector<std::string>{};
}

/// The temp files left in the package root or its Checkpoints folder.
std::vector<std::string> temp_files(Env& env) {
  std::vector<std::string> temps;
  for (const std::string& dir : {std::string(kPackage), checkpoint_dir()}) {
    for (const std::string& name : list(env, dir)) {
      if (is_temp(name)) temps.push_back(path::join(dir, name));
    }
  }
  return temps;
}

bool same(const CheckpointTracks& a, const CheckpointTracks& b) {
  return a.fast == b.fast && a.slow == b.slow && a.consistent == b.consistent;
}

std::string describe(const CheckpointTracks& t) {
  return "fast " + ::testing::PrintToString(t.fast) + " slow " + ::testing::PrintToString(t.slow) +
         " consistent " + ::testing::PrintToString(t.consistent);
}

std::unique_ptr<CheckpointStore> open(Env& env) {
  auto store = CheckpointStore::open(&env, kPackage, kArgs);
  EXPECT_TRUE(store.is_ok()) << store.status().to_string();
  return store.is_ok() ? std::move(store).value() : nullptr;
}

/// Checkpoints 0 to 3 (1 held) in kPackage; returns the open store. Tracks: fast [2, 3],
/// slow [2], consistent [1]; saving 4 with hold drops 1 and 2.
std::unique_ptr<CheckpointStore> prepare(FaultInjectionEnv& env) {
  EXPECT_TRUE(env.create_dirs(kPackage).is_ok());
  std::unique_ptr<CheckpointStore> store = open(env);
  for (int id = 0; id < 4; ++id) EXPECT_TRUE(store->save(bytes_of(id), id == 1).is_ok());
  return store;
}

/// Every held checkpoint reads back as `expected(id)` through a path that is not a temp file.
template <typename Expected>
void expect_held_checkpoints_load(const CheckpointStore& store, const Expected& expected) {
  for (int id : store.tracks().ids()) {
    auto file = store.path_of(id);
    ASSERT_TRUE(file.is_ok()) << file.status().to_string();
    EXPECT_FALSE(is_temp(*file)) << *file;
    auto bytes = store.read(id);
    ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
    EXPECT_EQ(*bytes, expected(id)) << "checkpoint " << id;
  }
}

/// After recovery a save succeeds, leaves no temp file and exactly the held checkpoints.
void expect_next_save_cleans_up(FaultInjectionEnv& env, CheckpointStore& store) {
  auto next = store.save(bytes_of(store.next_id()), false);
  ASSERT_TRUE(next.is_ok()) << next.status().to_string();
  EXPECT_EQ(temp_files(env), std::vector<std::string>{});
  std::vector<std::string> held;
  for (int id : store.tracks().ids()) held.push_back(path::base_name(*store.path_of(id)));
  std::sort(held.begin(), held.end());
  EXPECT_EQ(list(env, checkpoint_dir()), held);
  expect_held_checkpoints_load(store, bytes_of);
}

TEST(CheckpointCrashTest, ACrashAtAnyStepOfASaveLeavesTheOldOrTheNewCheckpoints) {
  CheckpointTracks before, after;
  int ops_of_one_save = 0;
  {
    FaultInjectionEnv env;
    auto store = prepare(env);
    before = store->tracks();
    const int start = env.mutating_ops();
    ASSERT_TRUE(store->save(bytes_of(4), true).is_ok());
    ops_of_one_save = env.mutating_ops() - start;
    after = store->tracks();
  }
  // Two atomic writes of six steps each, then the removal of checkpoints 1 and 2.
  ASSERT_EQ(ops_of_one_save, 14);
  for (int k = 0; k <= ops_of_one_save; ++k) {
    SCOPED_TRACE("crash after " + std::to_string(k) + " operations");
    FaultInjectionEnv env;
    auto store = prepare(env);
    env.freeze_after(k);
    const bool saved = store->save(bytes_of(4), true).is_ok();
    env.crash();

    std::unique_ptr<CheckpointStore> reopened = open(env);
    ASSERT_NE(reopened, nullptr);
    auto index = env.read_file(index_file());
    ASSERT_TRUE(index.is_ok()) << index.status().to_string();
    EXPECT_TRUE(Json::accept(*index)) << *index;
    const bool is_new = same(reopened->tracks(), after);
    EXPECT_TRUE(is_new || same(reopened->tracks(), before)) << describe(reopened->tracks());
    if (saved) {
      EXPECT_TRUE(is_new) << "the save reported success";
    }
    EXPECT_EQ(reopened->latest_id(), is_new ? 4 : 3);
    EXPECT_EQ(reopened->next_id(), is_new ? 5 : 4);
    expect_held_checkpoints_load(*reopened, bytes_of);
    expect_next_save_cleans_up(env, *reopened);
  }
}

/// After `continue -c 1` the next save overwrites checkpoint 2 while the index on disk still
/// lists the old 2 and 3: a crash must never pair that index with the new file.
TEST(CheckpointCrashTest, ACrashWhileContinuingNeverMixesOldAndNewCheckpoints) {
  const CheckpointArgs args{0, 100, 3, 0};
  auto old_bytes = [](int id) { return "old " + std::to_string(id); };
  const std::string new_2 = "continued 2";
  auto prepare_continue = [&](FaultInjectionEnv& env) {
    EXPECT_TRUE(env.create_dirs(kPackage).is_ok());
    auto store = std::move(CheckpointStore::open(&env, kPackage, args)).value();
    for (int id = 0; id < 4; ++id) EXPECT_TRUE(store->save(old_bytes(id), false).is_ok());
    EXPECT_TRUE(store->set_current_id(1).is_ok());
    return store;
  };
  int ops_of_one_save = 0;
  {
    FaultInjectionEnv env;
    auto store = prepare_continue(env);
    const int start = env.mutating_ops();
    ASSERT_TRUE(store->save(new_2, false).is_ok());
    ops_of_one_save = env.mutating_ops() - start;
  }
  for (int k = 0; k <= ops_of_one_save; ++k) {
    SCOPED_TRACE("crash after " + std::to_string(k) + " operations");
    FaultInjectionEnv env;
    auto store = prepare_continue(env);
    env.freeze_after(k);
    const bool saved = store->save(new_2, false).is_ok();
    env.crash();

    auto reopened = CheckpointStore::open(&env, kPackage, args);
    ASSERT_TRUE(reopened.is_ok()) << reopened.status().to_string();
    const std::deque<int>& fast = (*reopened)->tracks().fast;
    EXPECT_TRUE(fast == std::deque<int>({1, 2, 3}) || fast == std::deque<int>({1}) ||
                fast == std::deque<int>({1, 2}))
        << ::testing::PrintToString(fast);
    if (saved) {
      EXPECT_EQ(fast, std::deque<int>({1, 2}));
    }
    const bool continued = !(*reopened)->tracks().holds(3);
    expect_held_checkpoints_load(
        **reopened, [&](int id) { return id == 2 && continued ? new_2 : old_bytes(id); });
  }
}

TEST(CheckpointCrashTest, AFailedStepLeavesTheStoreAsItWas) {
  struct Fault {
    Op op;
    int nth;
    const char* step;
  };
  const Fault faults[] = {{Op::kCreate, 1, "create the checkpoint"},
                          {Op::kAppend, 1, "write the checkpoint"},
                          {Op::kSync, 1, "fsync the checkpoint"},
                          {Op::kClose, 1, "close the checkpoint"},
                          {Op::kRename, 1, "rename the checkpoint"},
                          {Op::kSyncDir, 1, "fsync Checkpoints/"},
                          {Op::kCreate, 2, "create the index"},
                          {Op::kAppend, 2, "write the index"},
                          {Op::kSync, 2, "fsync the index"},
                          {Op::kRename, 2, "rename the index"},
                          {Op::kSyncDir, 2, "fsync the package folder"}};
  for (const Fault& fault : faults) {
    SCOPED_TRACE(std::string("failing to ") + fault.step);
    FaultInjectionEnv env;
    auto store = prepare(env);
    const CheckpointTracks before = store->tracks();
    env.fail_nth(fault.op, fault.nth);
    auto failed = store->save(bytes_of(4), true);
    ASSERT_FALSE(failed.is_ok());
    EXPECT_EQ(failed.status().code(), Status::Code::kIOError) << failed.status().to_string();
    EXPECT_NE(failed.status().message().find("injected failure"), std::string::npos);
    EXPECT_TRUE(same(store->tracks(), before)) << describe(store->tracks());
    EXPECT_EQ(store->next_id(), 4);
    EXPECT_EQ(*store->read(-1), bytes_of(3));
    expect_held_checkpoints_load(*store, bytes_of);
    EXPECT_EQ(temp_files(env), std::vector<std::string>{});

    env.clear_faults();
    auto saved = store->save(bytes_of(4), true);
    ASSERT_TRUE(saved.is_ok()) << saved.status().to_string();
    EXPECT_EQ(*saved, 4);
    const CheckpointTracks after = store->tracks();
    EXPECT_EQ(after.ids(), (std::vector<int>{3, 4}));
    env.crash();
    std::unique_ptr<CheckpointStore> reopened = open(env);
    ASSERT_NE(reopened, nullptr);
    EXPECT_TRUE(same(reopened->tracks(), after)) << describe(reopened->tracks());
    expect_held_checkpoints_load(*reopened, bytes_of);
  }
}

TEST(CheckpointCrashTest, AFailedRemovalLeavesAFileTheNextOpenCollects) {
  FaultInjectionEnv env;
  auto store = prepare(env);
  env.fail_nth(Op::kRemove, 2);
  ASSERT_TRUE(store->save(bytes_of(4), true).is_ok());
  EXPECT_EQ(store->tracks().ids(), (std::vector<int>{3, 4}));
  EXPECT_EQ(list(env, checkpoint_dir()),
            (std::vector<std::string>{"state_1.ckpt", "state_3.ckpt", "state_4.ckpt"}));
  std::unique_ptr<CheckpointStore> reopened = open(env);
  ASSERT_NE(reopened, nullptr);
  expect_next_save_cleans_up(env, *reopened);
}

TEST(WriteFileAtomicallyCrashTest, ACrashLeavesTheOldOrTheNewContentsNeverPart) {
  const std::string file = "/pkg/_package.json";
  const std::string old_contents = "old contents";
  const std::string new_contents = "new contents, written in three chunks";
  auto writer = [&](WritableFile& out) {
    DLNEST_RETURN_IF_ERROR(out.append(new_contents.substr(0, 4)));
    DLNEST_RETURN_IF_ERROR(out.append(new_contents.substr(4, 10)));
    return out.append(new_contents.substr(14));
  };
  for (bool existed : {true, false}) {
    SCOPED_TRACE(existed ? "replacing a file" : "creating a file");
    auto prepare_file = [&](FaultInjectionEnv& env) {
      ASSERT_TRUE(env.create_dirs("/pkg").is_ok());
      if (existed) {
        ASSERT_TRUE(write_file_atomically(&env, file, old_contents).is_ok());
      }
    };
    int ops = 0;
    {
      FaultInjectionEnv env;
      prepare_file(env);
      const int start = env.mutating_ops();
      ASSERT_TRUE(write_file_atomically(&env, file, writer).is_ok());
      ops = env.mutating_ops() - start;
    }
    // Create, three appends, fsync, close, rename, fsync of the folder.
    ASSERT_EQ(ops, 8);
    for (int k = 0; k <= ops; ++k) {
      SCOPED_TRACE("crash after " + std::to_string(k) + " operations");
      FaultInjectionEnv env;
      prepare_file(env);
      env.freeze_after(k);
      const Status s = write_file_atomically(&env, file, writer);
      EXPECT_EQ(s.is_ok(), k == ops) << s.to_string();
      env.crash();
      auto data = env.read_file(file);
      if (s.is_ok()) {
        EXPECT_EQ(*data, new_contents);
      } else if (!data.is_ok()) {
        EXPECT_FALSE(existed) << data.status().to_string();
      } else {
        EXPECT_TRUE(*data == new_contents || (existed && *data == old_contents)) << *data;
      }
      for (const std::string& name : list(env, "/pkg")) EXPECT_FALSE(is_temp(name)) << name;
    }
  }
}

}  // namespace
}  // namespace dlnest
