// progress.json: replaced atomically, never through a link, at most a few times a second however
// often a loop reports; and its one-line and table-cell forms.
#include "package/progress_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "dlnest/env.h"
#include "env/path.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using testing::TempDir;
using Clock = std::chrono::steady_clock;

Json read_json(const std::string& file) {
  auto text = Env::default_env()->read_file(file);
  return text.is_ok() ? Json::parse(*text, nullptr, false) : Json();
}

TEST(ProgressFileTest, WritesTheRecordAndLeavesNoTemporaryFile) {
  TempDir dir;
  ASSERT_TRUE(write_progress_file(dir.path(), {{"stage", "train"}, {"step", 3}}).is_ok());
  EXPECT_EQ(read_json(dir.file("progress.json")), (Json{{"stage", "train"}, {"step", 3}}));
  EXPECT_FALSE(Env::default_env()->file_exists(dir.file("progress.json.tmp")));
}

TEST(ProgressFileTest, ALinkInPlaceOfTheTemporaryFileIsRefusedAndItsTargetUntouched) {
  TempDir dir;
  const std::string target = dir.write("secret", "keep\n");
  ASSERT_EQ(::symlink(target.c_str(), dir.file("progress.json.tmp").c_str()), 0);
  const Status s = write_progress_file(dir.path(), {{"stage", "train"}});
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("progress.json.tmp is a symbolic link"), std::string::npos)
      << s.message();
  EXPECT_EQ(*Env::default_env()->read_file(target), "keep\n");
}

TEST(ProgressFileTest, ALinkAsProgressFileIsReplacedNotFollowed) {
  TempDir dir;
  const std::string target = dir.write("secret", "keep\n");
  ASSERT_EQ(::symlink(target.c_str(), dir.file("progress.json").c_str()), 0);
  ASSERT_TRUE(write_progress_file(dir.path(), {{"stage", "save"}}).is_ok());
  EXPECT_EQ(*Env::default_env()->read_file(target), "keep\n");
  struct stat st {};
  ASSERT_EQ(::lstat(dir.file("progress.json").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST(ProgressFileTest, AFifoInPlaceOfTheTemporaryFileIsRefusedAtOnce) {
  TempDir dir;
  ASSERT_EQ(::mkfifo(dir.file("progress.json.tmp").c_str(), 0644), 0);
  const Status s = write_progress_file(dir.path(), {{"stage", "train"}});
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("not a regular file"), std::string::npos) << s.message();
}

TEST(ProgressFileTest, ThousandsOfReportsASecondWriteAtMostFourTimesASecond) {
  TempDir dir;
  ProgressFile file(dir.path());
  std::atomic<bool> torn{false};
  std::atomic<bool> stop{false};
  // A reader all along: every state it sees is whole.
  std::thread reader([&] {
    while (!stop) {
      auto text = Env::default_env()->read_file(dir.file("progress.json"));
      if (text.is_ok() && !Json::parse(*text, nullptr, false).is_object()) torn = true;
    }
  });
  const auto start = Clock::now();
  int64_t step = 0;
  while (Clock::now() - start < std::chrono::milliseconds(1500)) {
    file.publish({{"stage", "train"}, {"step", ++step}});
  }
  // Within an interval of the last report, the file has a recent state, without close().
  std::this_thread::sleep_for(kProgressInterval * 2);
  const int64_t seen = read_json(dir.file("progress.json")).value("step", int64_t{0});
  EXPECT_EQ(seen, step);
  ASSERT_TRUE(file.close({{"stage", "finished"}, {"step", step}}).is_ok());
  const std::chrono::duration<double> took = Clock::now() - start;
  stop = true;
  reader.join();
  EXPECT_FALSE(torn);
  EXPECT_GT(step, 1000);
  const int64_t most = static_cast<int64_t>(took.count() / 0.25) + 2;
  EXPECT_LE(file.writes(), most) << step << " reports in " << took.count() << " s";
  EXPECT_GE(file.writes(), 3);
  EXPECT_EQ(read_json(dir.file("progress.json"))["stage"], "finished");
  file.publish({{"stage", "train"}});  // after close: dropped
  std::this_thread::sleep_for(kProgressInterval * 2);
  EXPECT_EQ(read_json(dir.file("progress.json"))["stage"], "finished");
}

TEST(ProgressFileTest, TheDestructorWritesTheLastReport) {
  TempDir dir;
  {
    ProgressFile file(dir.path(), std::chrono::milliseconds(10000));
    file.publish({{"step", 1}});
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    file.publish({{"step", 2}});  // waits for the interval
  }
  EXPECT_EQ(read_json(dir.file("progress.json")), (Json{{"step", 2}}));
}

TEST(ProgressFileTest, AnUnwritableFolderIsReportedAndNothingHangs) {
  TempDir dir;
  ProgressFile file(dir.file("gone"));
  file.publish({{"step", 1}});
  const Status s = file.close({{"stage", "finished"}});
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("gone/progress.json.tmp"), std::string::npos) << s.message();
  EXPECT_EQ(file.writes(), 0);
}

const Json kTraining = Json::parse(R"({"stage": "train", "epoch": 2, "epochs": 4, "step": 60,
  "steps_per_epoch": 100, "it_per_s": 12.34, "eta_epoch_s": 3.2, "eta_run_s": 245,
  "fraction": 0.65, "scalars": {"acc": 0.91, "loss": 0.35212}, "updated_at": 1.7e9, "pid": 7})");

TEST(FormatProgressTest, ALineForPeople) {
  EXPECT_EQ(format_progress_line(kTraining),
            "epoch 3/4 | 60/100 | 12.3 it/s | ETA 0:03 (run 4:05) | acc 0.91 | loss 0.3521");
  Json validation = kTraining;
  validation["stage"] = "validation";
  EXPECT_EQ(format_progress_line(validation),
            "epoch 3/4 | 60/100 | 12.3 it/s | validation | acc 0.91 | loss 0.3521");
  Json unknown = {{"stage", "train"}, {"epoch", 0}, {"step", 1}, {"steps_per_epoch", 6}};
  EXPECT_EQ(format_progress_line(unknown), "epoch 1 | 1/6");
  EXPECT_EQ(format_progress_line(Json::parse(
                R"({"stage": "build", "done": 3, "total": 7, "fraction": 0.4286,
                    "phase": "compiling"})")),
            "build 3/7 (43%) | compiling");
  EXPECT_EQ(format_progress_line(Json()), "");
}

TEST(FormatProgressTest, ACellForTables) {
  EXPECT_EQ(format_progress_cell(kTraining), "e 3/4 60% 12.3it/s ETA 4:05");
  Json no_epochs = kTraining;
  no_epochs.erase("epochs");
  no_epochs.erase("eta_run_s");
  EXPECT_EQ(format_progress_cell(no_epochs), "e 3 60% 12.3it/s ETA 0:03");
  Json saving = kTraining;
  saving["stage"] = "save";
  EXPECT_EQ(format_progress_cell(saving), "e 3/4 save");
  EXPECT_EQ(format_progress_cell(Json{{"stage", "build"}, {"fraction", 0.5}}), "build 50%");
  EXPECT_EQ(format_progress_cell(Json{{"stage", "build"}}), "build");
  EXPECT_EQ(format_progress_cell(Json{{"stage", "finished"}, {"epoch", 3}, {"epochs", 4}}),
            "e 4/4 finished");
  EXPECT_EQ(format_progress_cell(Json()), "-");
  EXPECT_EQ(format_progress_cell(Json::array()), "-");
}

TEST(FormatProgressTest, HostileFieldsAreDroppedOrMadeHarmless) {
  const Json hostile = Json::parse(R"({"stage": "train\u001b[2J", "epoch": "two", "epochs": -1,
    "step": 1e300, "steps_per_epoch": [1], "it_per_s": "fast", "eta_epoch_s": null,
    "scalars": {"\u001b]0;owned\u0007x\u009b": 1, "nan": "NaN", "long": 1}})");
  const std::string line = format_progress_line(hostile);
  EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
  EXPECT_EQ(line.find('\x07'), std::string::npos) << line;
  EXPECT_EQ(line.find("\xc2\x9b"), std::string::npos) << line;
  EXPECT_EQ(line, "train[2J | ]0;ownedx 1 | long 1");
  EXPECT_EQ(format_progress_cell(hostile), "train[2J");
  Json long_stage = {{"stage", std::string(1000, 'x') + "\xc3\xa9"}};
  EXPECT_EQ(format_progress_line(long_stage), std::string(16, 'x'));
  // A multi-byte character is never cut in two.
  Json utf8 = {{"stage", "train"}, {"scalars", {{std::string(31, 'a') + "\xc3\xa9", 1}}}};
  EXPECT_EQ(format_progress_line(utf8), std::string(31, 'a') + " 1");
}

TEST(FormatProgressTest, Eta) {
  EXPECT_EQ(format_eta(0), "0:00");
  EXPECT_EQ(format_eta(18.4), "0:18");
  EXPECT_EQ(format_eta(725), "12:05");
  EXPECT_EQ(format_eta(3723), "1:02:03");
  EXPECT_EQ(format_eta(-5), "0:00");
}

}  // namespace
}  // namespace dlnest
