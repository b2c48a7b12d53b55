#include "dlnest/checkpoint_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>
#include <random>
#include <set>

#include "env/path.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using testing::TempDir;

/// {slow cap, dilation, fast cap, consistent cap}, the field order of CheckpointArgs.
CheckpointArgs tracks_args(int slow, int dilation, int fast, int consistent) {
  return CheckpointArgs{slow, dilation, fast, consistent};
}

std::string bytes_of(int id) {
  return "checkpoint " + std::to_string(id);
}

std::string file_name(int id) {
  return "state_" + std::to_string(id) + ".ckpt";
}

void expect_tracks(const CheckpointTracks& tracks, const std::deque<int>& fast,
                   const std::deque<int>& slow, const std::deque<int>& consistent) {
  EXPECT_EQ(tracks.fast, fast);
  EXPECT_EQ(tracks.slow, slow);
  EXPECT_EQ(tracks.consistent, consistent);
}

class CheckpointStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<CheckpointStore> open(const CheckpointArgs& args = {}) {
    auto store = CheckpointStore::open(env_, dir_.path(), args);
    EXPECT_TRUE(store.is_ok()) << store.status().to_string();
    return store.is_ok() ? std::move(store).value() : nullptr;
  }

  /// Saves the next checkpoint with bytes_of(its id) and returns the id.
  int save(CheckpointStore& store, bool hold = false) {
    auto id = store.save(bytes_of(store.next_id()), hold);
    EXPECT_TRUE(id.is_ok()) << id.status().to_string();
    return id.is_ok() ? *id : -1;
  }

  /// The names in Checkpoints/.
  std::set<std::string> files() {
    auto names = env_->list_dir(dir_.file(CheckpointStore::kCheckpointDir));
    EXPECT_TRUE(names.is_ok()) << names.status().to_string();
    return names.is_ok() ? std::set<std::string>(names->begin(), names->end())
                         : std::set<std::string>{};
  }

  std::set<std::string> files_of(std::initializer_list<int> ids) {
    std::set<std::string> names;
    for (int id : ids) names.insert(file_name(id));
    return names;
  }

  Env* env_ = Env::default_env();
  TempDir dir_;
};

TEST_F(CheckpointStoreTest, IdsAreASaveCounterStartingAtZero) {
  auto store = open();
  EXPECT_EQ(store->next_id(), 0);
  EXPECT_EQ(store->latest_id(), -1);
  EXPECT_EQ(save(*store), 0);
  EXPECT_EQ(save(*store, true), 1);
  EXPECT_EQ(save(*store), 2);
  EXPECT_EQ(store->next_id(), 3);
  EXPECT_EQ(store->latest_id(), 2);
}

TEST_F(CheckpointStoreTest, FastTrackKeepsTheNewestUpToItsCap) {
  auto store = open(tracks_args(0, 100, 2, 0));
  save(*store);
  save(*store);
  expect_tracks(store->tracks(), {0, 1}, {}, {});
  EXPECT_EQ(files(), files_of({0, 1}));
  save(*store);
  save(*store);
  save(*store);
  expect_tracks(store->tracks(), {3, 4}, {}, {});
  EXPECT_EQ(files(), files_of({3, 4}));
}

TEST_F(CheckpointStoreTest, SlowTrackTakesEveryDilationthIdWithItsOwnCap) {
  auto store = open(tracks_args(2, 3, 1, 0));
  for (int i = 0; i < 7; ++i) save(*store);
  expect_tracks(store->tracks(), {6}, {3, 6}, {});
  EXPECT_EQ(files(), files_of({3, 6}));
  save(*store);
  expect_tracks(store->tracks(), {7}, {3, 6}, {});
  EXPECT_EQ(files(), files_of({3, 6, 7}));
  save(*store);
  save(*store);
  expect_tracks(store->tracks(), {9}, {6, 9}, {});
  EXPECT_EQ(files(), files_of({6, 9}));
}

TEST_F(CheckpointStoreTest, ACapOfZeroKeepsNothingInThatTrack) {
  auto store = open(tracks_args(0, 1, 1, 0));
  save(*store, true);
  save(*store, true);
  expect_tracks(store->tracks(), {1}, {}, {});
  EXPECT_EQ(files(), files_of({1}));
}

TEST_F(CheckpointStoreTest, ConsistentTrackHoldsTheFlaggedSaves) {
  auto store = open(tracks_args(0, 100, 1, 2));
  save(*store, true);
  save(*store, false);
  save(*store, true);
  save(*store, false);
  expect_tracks(store->tracks(), {3}, {}, {0, 2});
  EXPECT_EQ(files(), files_of({0, 2, 3}));
  save(*store, true);
  expect_tracks(store->tracks(), {4}, {}, {2, 4});
  EXPECT_EQ(files(), files_of({2, 4}));
}

TEST_F(CheckpointStoreTest, AFileIsDeletedOnlyWhenNoTrackHoldsIt) {
  auto store = open(tracks_args(1, 2, 1, 1));
  save(*store, true);
  expect_tracks(store->tracks(), {0}, {0}, {0});
  save(*store, false);
  expect_tracks(store->tracks(), {1}, {0}, {0});
  EXPECT_EQ(files(), files_of({0, 1}));
  save(*store, false);
  expect_tracks(store->tracks(), {2}, {2}, {0});
  EXPECT_EQ(files(), files_of({0, 2}));
  save(*store, true);
  expect_tracks(store->tracks(), {3}, {2}, {3});
  EXPECT_EQ(files(), files_of({2, 3}));
}

TEST_F(CheckpointStoreTest, ASaveNoTrackTakesLeavesNoFile) {
  auto store = open(tracks_args(1, 2, 0, 1));
  EXPECT_EQ(save(*store, false), 0);
  EXPECT_EQ(save(*store, false), 1);
  EXPECT_EQ(save(*store, true), 2);
  EXPECT_EQ(save(*store, false), 3);
  expect_tracks(store->tracks(), {}, {2}, {2});
  EXPECT_EQ(files(), files_of({2}));
  EXPECT_EQ(store->next_id(), 4);
}

TEST_F(CheckpointStoreTest, IndexHasTheDocumentedFormat) {
  auto store = open(tracks_args(2, 2, 2, 1));
  for (bool hold : {true, false, false, true, false}) save(*store, hold);
  auto text = env_->read_file(dir_.file(CheckpointStore::kIndexFile));
  ASSERT_TRUE(text.is_ok()) << text.status().to_string();
  const Json index = Json::parse(*text);
  EXPECT_EQ(index, Json::parse(R"({"ckpt_consistent": [3], "ckpt_fast": [3, 4],
                                   "ckpt_slow": [2, 4], "prefix": "state_"})"));
  EXPECT_EQ(*text, index.dump(4) + "\n");
  std::vector<std::string> keys;
  for (const auto& [key, value] : index.items()) keys.push_back(key);
  EXPECT_EQ(keys,
            (std::vector<std::string>{"ckpt_consistent", "ckpt_fast", "ckpt_slow", "prefix"}));
}

TEST_F(CheckpointStoreTest, TheInterruptCheckpointLeavesTheTracksAndTheirCapsAlone) {
  const CheckpointArgs args = tracks_args(0, 100, 1, 1);
  auto store = open(args);
  save(*store);
  auto interrupted = store->save_interrupt(
      [](WritableFile& out) { return out.append(bytes_of(1)); });
  ASSERT_TRUE(interrupted.is_ok()) << interrupted.status().to_string();
  EXPECT_EQ(*interrupted, 1);
  expect_tracks(store->tracks(), {0}, {}, {});
  EXPECT_EQ(store->tracks().interrupt, std::deque<int>{1});
  EXPECT_EQ(store->latest_id(), 1);
  EXPECT_EQ(files(), files_of({0, 1}));
  const Json index = Json::parse(*env_->read_file(dir_.file(CheckpointStore::kIndexFile)));
  EXPECT_EQ(index["ckpt_interrupt"], Json::array({1}));
  EXPECT_EQ(index["ckpt_fast"], Json::array({0}));

  auto reopened = open(args);
  EXPECT_EQ(reopened->tracks().interrupt, std::deque<int>{1});
  EXPECT_EQ(*reopened->read(-1), bytes_of(1));
  // The run goes on: the next save supersedes the interrupt checkpoint.
  EXPECT_EQ(save(*reopened), 2);
  EXPECT_TRUE(reopened->tracks().interrupt.empty());
  expect_tracks(reopened->tracks(), {2}, {}, {});
  EXPECT_EQ(files(), files_of({2}));
  EXPECT_FALSE(Json::parse(*env_->read_file(dir_.file(CheckpointStore::kIndexFile)))
                   .contains("ckpt_interrupt"));
}

TEST_F(CheckpointStoreTest, ReopenRestoresTracksAndNextId) {
  const CheckpointArgs args = tracks_args(2, 2, 2, 1);
  {
    auto store = open(args);
    for (bool hold : {true, false, false, true, false}) save(*store, hold);
  }
  auto store = open(args);
  expect_tracks(store->tracks(), {3, 4}, {2, 4}, {3});
  EXPECT_EQ(store->next_id(), 5);
  EXPECT_EQ(save(*store), 5);
  expect_tracks(store->tracks(), {4, 5}, {2, 4}, {3});
  EXPECT_EQ(files(), files_of({2, 3, 4, 5}));
}

TEST_F(CheckpointStoreTest, ReadGivesTheBytesOfAnIdOrOfTheLatest) {
  auto store = open(tracks_args(0, 100, 3, 0));
  for (int i = 0; i < 4; ++i) save(*store);
  EXPECT_EQ(*store->read(-1), bytes_of(3));
  EXPECT_EQ(*store->read(2), bytes_of(2));
  EXPECT_EQ(*store->path_of(-1), dir_.file("Checkpoints/state_3.ckpt"));
  EXPECT_EQ(*store->path_of(1), dir_.file("Checkpoints/state_1.ckpt"));
}

TEST_F(CheckpointStoreTest, AnUnknownIdIsNotFoundNamingTheId) {
  auto store = open();
  const Status empty = store->read(-1).status();
  EXPECT_EQ(empty.code(), Status::Code::kNotFound);
  EXPECT_NE(empty.message().find("no checkpoint"), std::string::npos) << empty.to_string();
  save(*store);
  save(*store);
  for (int id : {0, 2, 17}) {
    for (const Status& s : {store->read(id).status(), store->path_of(id).status()}) {
      EXPECT_EQ(s.code(), Status::Code::kNotFound) << id;
      EXPECT_NE(s.message().find("checkpoint " + std::to_string(id)), std::string::npos)
          << s.to_string();
      EXPECT_NE(s.message().find(dir_.path()), std::string::npos) << s.to_string();
    }
  }
}

TEST_F(CheckpointStoreTest, SetCurrentIdDropsLaterIdsAndContinuesAfterIt) {
  auto store = open(tracks_args(2, 2, 3, 2));
  for (bool hold : {true, false, true, true, false}) save(*store, hold);
  expect_tracks(store->tracks(), {2, 3, 4}, {2, 4}, {2, 3});
  ASSERT_TRUE(store->set_current_id(2).is_ok());
  expect_tracks(store->tracks(), {2}, {2}, {2});
  EXPECT_EQ(store->next_id(), 3);
  EXPECT_EQ(store->latest_id(), 2);
  EXPECT_EQ(store->read(3).status().code(), Status::Code::kNotFound);
  // The dropped files stay until a save with the same id replaces them.
  EXPECT_EQ(files(), files_of({2, 3, 4}));

  ASSERT_TRUE(store->save("continued 3", false).is_ok());
  expect_tracks(store->tracks(), {2, 3}, {2}, {2});
  EXPECT_EQ(*store->read(3), "continued 3");
  EXPECT_EQ(files(), files_of({2, 3, 4}));
  ASSERT_TRUE(store->save("continued 4", false).is_ok());
  expect_tracks(store->tracks(), {2, 3, 4}, {2, 4}, {2});
  EXPECT_EQ(*store->read(4), "continued 4");
}

TEST_F(CheckpointStoreTest, SetCurrentIdOfAnUnheldIdFails) {
  auto store = open(tracks_args(0, 100, 2, 0));
  for (int i = 0; i < 4; ++i) save(*store);
  for (int id : {1, 4, -1}) {
    const Status s = store->set_current_id(id);
    EXPECT_EQ(s.code(), Status::Code::kNotFound) << id;
    EXPECT_NE(s.message().find("checkpoint " + std::to_string(id)), std::string::npos)
        << s.to_string();
  }
  expect_tracks(store->tracks(), {2, 3}, {}, {});
  EXPECT_EQ(store->next_id(), 4);
}

TEST_F(CheckpointStoreTest, SetCurrentIdReachesTheDiskOnlyWithTheNextSave) {
  const CheckpointArgs args = tracks_args(0, 100, 3, 0);
  {
    auto store = open(args);
    for (int i = 0; i < 3; ++i) save(*store);
    ASSERT_TRUE(store->set_current_id(0).is_ok());
  }
  {
    auto store = open(args);
    expect_tracks(store->tracks(), {0, 1, 2}, {}, {});
    EXPECT_EQ(store->next_id(), 3);
    ASSERT_TRUE(store->set_current_id(0).is_ok());
    EXPECT_EQ(save(*store), 1);
  }
  auto store = open(args);
  expect_tracks(store->tracks(), {0, 1}, {}, {});
  EXPECT_EQ(store->next_id(), 2);
}

TEST_F(CheckpointStoreTest, AMalformedIndexIsCorruptionNamingTheFile) {
  const std::string index = dir_.file(CheckpointStore::kIndexFile);
  for (const char* text :
       {"{\"ckpt_fast\": [1,", "[1, 2]", R"({"ckpt_fast": 3})", R"({"ckpt_slow": [-1]})",
        R"({"ckpt_consistent": ["a"]})", R"({"ckpt_fast": [4294967296]})",
        R"({"ckpt_fast": [1.5]})", R"({"ckpt_fast": [0], "prefix": "a/b"})"}) {
    dir_.write(CheckpointStore::kIndexFile, text);
    auto store = CheckpointStore::open(env_, dir_.path(), {});
    ASSERT_FALSE(store.is_ok()) << text;
    EXPECT_EQ(store.status().code(), Status::Code::kCorruption) << text;
    EXPECT_NE(store.status().message().find(index), std::string::npos)
        << store.status().to_string();
  }
}

TEST_F(CheckpointStoreTest, AMissingIndexIsAnEmptyStore) {
  dir_.write("Checkpoints/state_0.ckpt", "orphan");
  auto store = open();
  expect_tracks(store->tracks(), {}, {}, {});
  EXPECT_EQ(store->next_id(), 0);
}

TEST_F(CheckpointStoreTest, ReadsAnIndexWithAnotherPrefix) {
  dir_.write(CheckpointStore::kIndexFile, R"({"ckpt_fast": [4], "prefix": "epoch_"})");
  dir_.write("Checkpoints/epoch_4.ckpt", "four");
  auto store = open();
  EXPECT_EQ(store->prefix(), "epoch_");
  EXPECT_EQ(*store->read(-1), "four");
  EXPECT_EQ(save(*store), 5);
  EXPECT_EQ(files(), (std::set<std::string>{"epoch_5.ckpt"}));
}

TEST_F(CheckpointStoreTest, SaveStreamsAWriterInChunks) {
  auto store = open();
  std::string expected;
  for (int i = 0; i < 5; ++i)
    expected += "chunk " + std::to_string(i) + std::string(4096, static_cast<char>('a' + i));
  auto id = store->save(
      [](WritableFile& out) {
        for (int i = 0; i < 5; ++i) {
          DLNEST_RETURN_IF_ERROR(out.append("chunk " + std::to_string(i)));
          DLNEST_RETURN_IF_ERROR(out.append(std::string(4096, static_cast<char>('a' + i))));
        }
        return Status::ok();
      },
      false);
  ASSERT_TRUE(id.is_ok()) << id.status().to_string();
  EXPECT_EQ(*store->read(*id), expected);
}

TEST_F(CheckpointStoreTest, AFailingWriterSavesNothing) {
  auto store = open();
  save(*store);
  auto failed = store->save(
      [](WritableFile& out) {
        DLNEST_RETURN_IF_ERROR(out.append("half"));
        return Status::invalid_argument("cannot serialise module 'net.fc'");
      },
      true);
  EXPECT_EQ(failed.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(failed.status().message(), "cannot serialise module 'net.fc'");
  expect_tracks(store->tracks(), {0}, {}, {});
  EXPECT_EQ(store->next_id(), 1);
  EXPECT_EQ(files(), files_of({0}));
  EXPECT_EQ(save(*store), 1);
}

TEST_F(CheckpointStoreTest, TheFirstSaveRemovesLeftoversOfAnInterruptedSave) {
  const CheckpointArgs args = tracks_args(0, 100, 2, 0);
  {
    auto store = open(args);
    for (int i = 0; i < 4; ++i) save(*store);
  }
  dir_.write("Checkpoints/state_1.ckpt", "unheld");
  dir_.write("Checkpoints/state_4.ckpt.tmp", "partial");
  dir_.write("Checkpoints/notes.txt", "kept");
  dir_.write(std::string(CheckpointStore::kIndexFile) + ".tmp", "partial");
  auto store = open(args);
  EXPECT_EQ(save(*store), 4);
  EXPECT_EQ(files(), (std::set<std::string>{"notes.txt", "state_3.ckpt", "state_4.ckpt"}));
  EXPECT_FALSE(env_->file_exists(dir_.file(std::string(CheckpointStore::kIndexFile) + ".tmp")));
}

/// The track rules of DESIGN.md §4, written as plainly as possible, to check the store against.
class TrackModel {
 public:
  explicit TrackModel(const CheckpointArgs& args) : args_(args) {}

  void save(bool hold, const std::string& bytes) {
    const int id = next_++;
    keep(fast_, id, args_.max_ckpt_in_fast_track);
    if (id % args_.dilation_in_slow_track == 0) keep(slow_, id, args_.max_ckpt_in_slow_track);
    if (hold) keep(consistent_, id, args_.max_ckpt_in_consistent_track);
    stale_.erase(id);
    bytes_[id] = bytes;
  }

  /// Ids above `id` leave the tracks; their files stay until a save with the same id.
  void set_current_id(int id) {
    for (int old : on_disk()) {
      if (old > id) stale_.insert(old);
    }
    for (std::deque<int>* track : {&fast_, &slow_, &consistent_}) {
      std::deque<int> kept;
      for (int held : *track) {
        if (held <= id) kept.push_back(held);
      }
      *track = kept;
    }
    next_ = id + 1;
  }

  /// The index records tracks only, so a reopened store continues after the latest held id.
  void reopen() {
    const std::set<int> ids = held();
    next_ = ids.empty() ? 0 : *ids.rbegin() + 1;
  }

  std::set<int> held() const {
    std::set<int> ids(fast_.begin(), fast_.end());
    ids.insert(slow_.begin(), slow_.end());
    ids.insert(consistent_.begin(), consistent_.end());
    return ids;
  }

  std::set<int> on_disk() const {
    std::set<int> ids = held();
    ids.insert(stale_.begin(), stale_.end());
    return ids;
  }

  const std::string& bytes(int id) const { return bytes_.at(id); }
  int next_id() const { return next_; }
  const std::deque<int>& fast() const { return fast_; }
  const std::deque<int>& slow() const { return slow_; }
  const std::deque<int>& consistent() const { return consistent_; }

 private:
  static void keep(std::deque<int>& track, int id, int cap) {
    track.push_back(id);
    while (static_cast<int>(track.size()) > cap) track.pop_front();
  }

  CheckpointArgs args_;
  std::deque<int> fast_, slow_, consistent_;
  std::set<int> stale_;
  std::map<int, std::string> bytes_;
  int next_ = 0;
};

::testing::AssertionResult matches(const CheckpointStore& store, const TrackModel& model,
                                   Env* env) {
  const CheckpointTracks& tracks = store.tracks();
  if (tracks.fast != model.fast() || tracks.slow != model.slow() ||
      tracks.consistent != model.consistent()) {
    return ::testing::AssertionFailure()
           << "tracks fast " << ::testing::PrintToString(tracks.fast) << " slow "
           << ::testing::PrintToString(tracks.slow) << " consistent "
           << ::testing::PrintToString(tracks.consistent) << ", model fast "
           << ::testing::PrintToString(model.fast()) << " slow "
           << ::testing::PrintToString(model.slow()) << " consistent "
           << ::testing::PrintToString(model.consistent());
  }
  if (store.next_id() != model.next_id()) {
    return ::testing::AssertionFailure()
           << "next id " << store.next_id() << ", model " << model.next_id();
  }
  const std::string dir = path::join(store.package_dir(), CheckpointStore::kCheckpointDir);
  auto names = env->list_dir(dir);
  if (!names.is_ok()) return ::testing::AssertionFailure() << names.status().to_string();
  std::set<std::string> expected;
  for (int id : model.on_disk()) expected.insert(file_name(id));
  if (std::set<std::string>(names->begin(), names->end()) != expected) {
    return ::testing::AssertionFailure() << "files " << ::testing::PrintToString(*names)
                                         << ", model " << ::testing::PrintToString(expected);
  }
  for (int id : model.on_disk()) {
    auto bytes = env->read_file(path::join(dir, file_name(id)));
    if (!bytes.is_ok() || *bytes != model.bytes(id)) {
      return ::testing::AssertionFailure() << file_name(id) << " does not hold " << model.bytes(id);
    }
  }
  for (int id : model.held()) {
    auto bytes = store.read(id);
    if (!bytes.is_ok() || *bytes != model.bytes(id)) {
      return ::testing::AssertionFailure() << "read(" << id << ") is not " << model.bytes(id);
    }
  }
  return ::testing::AssertionSuccess();
}

std::string describe(const CheckpointArgs& args) {
  return "slow " + std::to_string(args.max_ckpt_in_slow_track) + ", dilation " +
         std::to_string(args.dilation_in_slow_track) + ", fast " +
         std::to_string(args.max_ckpt_in_fast_track) + ", consistent " +
         std::to_string(args.max_ckpt_in_consistent_track);
}

/// A TempDir on tmpfs where there is one: real files, without waiting for thousands of fsyncs.
std::unique_ptr<TempDir> temp_dir_in_memory() {
  const char* tmpdir = ::getenv("TMPDIR");
  const std::string saved = tmpdir != nullptr ? tmpdir : "";
  if (Env::default_env()->is_directory("/dev/shm")) ::setenv("TMPDIR", "/dev/shm", 1);
  auto dir = std::make_unique<TempDir>();
  if (tmpdir != nullptr) {
    ::setenv("TMPDIR", saved.c_str(), 1);
  } else {
    ::unsetenv("TMPDIR");
  }
  return dir;
}

/// 1,000 saves on real files with random hold flags and occasional continues, each checked
/// against the model, for several track configurations.
TEST(CheckpointStoreModelTest, MatchesTheReferenceModelOnRealFiles) {
  constexpr int kSaves = 1000;
  constexpr int kContinueEvery = 97;
  constexpr int kSavesAfterReopen = 30;
  Env* env = Env::default_env();
  std::mt19937 rng(20240611);
  for (const CheckpointArgs& args :
       {tracks_args(0, 100, 1, 1), tracks_args(3, 5, 2, 2), tracks_args(2, 1, 0, 0),
        tracks_args(0, 7, 5, 3), tracks_args(4, 3, 1, 0), tracks_args(1, 2, 3, 1),
        tracks_args(1, 2, 0, 1)}) {
    SCOPED_TRACE(describe(args));
    const std::unique_ptr<TempDir> dir = temp_dir_in_memory();
    auto opened = CheckpointStore::open(env, dir->path(), args);
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    std::unique_ptr<CheckpointStore> store = std::move(opened).value();
    TrackModel model(args);
    int saves = 0;
    auto save = [&](bool hold) {
      const std::string bytes =
          "save " + std::to_string(saves++) + " as id " + std::to_string(model.next_id());
      auto id = store->save(bytes, hold);
      ASSERT_TRUE(id.is_ok()) << id.status().to_string();
      EXPECT_EQ(*id, model.next_id());
      model.save(hold, bytes);
      ASSERT_TRUE(matches(*store, model, env)) << "after save " << saves;
    };
    for (int i = 1; i <= kSaves; ++i) {
      if (i % kContinueEvery == 0 && !model.held().empty()) {
        const std::set<int> held_set = model.held();
        const std::vector<int> held(held_set.begin(), held_set.end());
        const int id = held[rng() % held.size()];
        ASSERT_TRUE(store->set_current_id(id).is_ok()) << id;
        model.set_current_id(id);
        ASSERT_TRUE(matches(*store, model, env)) << "after set_current_id(" << id << ")";
      }
      save(rng() % 3 == 0);
      if (::testing::Test::HasFatalFailure()) return;
    }
    opened = CheckpointStore::open(env, dir->path(), args);
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    store = std::move(opened).value();
    model.reopen();
    ASSERT_TRUE(matches(*store, model, env)) << "after reopening";
    for (int i = 0; i < kSavesAfterReopen; ++i) {
      save(rng() % 3 == 0);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace dlnest
