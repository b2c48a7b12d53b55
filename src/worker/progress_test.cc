// The worker's progress on a fake clock: the cadence of the progress lines (every tenth of an
// epoch, or 30 s), the rate and ETAs, the stages, and the final progress.json.
#include "worker/progress.h"

#include <gtest/gtest.h>

#include <sstream>
#include <vector>

#include "dlnest/env.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using Clock = std::chrono::steady_clock;
using testing::TempDir;

/// A clock that moves only when told.
struct FakeClock {
  Clock::time_point now = Clock::time_point() + std::chrono::hours(1);
  void advance(double seconds) {
    now += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class TrainingProgressTest : public ::testing::Test {
 protected:
  ProgressSinks sinks(std::optional<int> epochs) {
    ProgressSinks s;
    s.lines = &lines_;
    s.epochs = epochs;
    s.pid = 42;
    s.now = [this] { return clock_.now; };
    s.unix_now = [] { return 1700000000.5; };
    return s;
  }

  /// Steps `first`+1..`steps` of `epoch`, each taking `seconds`.
  void run_epoch(TrainingProgress& p, int epoch, int64_t steps, double seconds,
                 int64_t first = 0) {
    for (int64_t step = first + 1; step <= steps; ++step) {
      clock_.advance(seconds);
      StepProgress s;
      s.epoch = epoch;
      s.step = step;
      s.steps = steps;
      s.loss = 1.0 / static_cast<double>(step);
      p.step(s);
    }
    p.end_epoch();
  }

  FakeClock clock_;
  std::ostringstream lines_;
};

TEST_F(TrainingProgressTest, ALinePerTenthOfAnEpoch) {
  TrainingProgress p(sinks(2));
  p.start();
  run_epoch(p, 0, 100, 0.1);
  run_epoch(p, 1, 100, 0.1);
  const std::vector<std::string> lines = lines_of(lines_.str());
  ASSERT_EQ(lines.size(), 20u) << lines_.str();
  EXPECT_EQ(lines[0], "[dlnest] epoch 1/2 | 10/100 | 10.0 it/s | ETA 0:09 (run 0:19) | loss 0.1");
  EXPECT_EQ(lines[9].rfind("[dlnest] epoch 1/2 | 100/100 | ", 0), 0u) << lines[9];
  EXPECT_EQ(lines[19].rfind("[dlnest] epoch 2/2 | 100/100 | ", 0), 0u) << lines[19];
}

TEST_F(TrainingProgressTest, AShortEpochGetsALinePerStep) {
  TrainingProgress p(sinks(1));
  p.start();
  run_epoch(p, 0, 6, 0.01);
  EXPECT_EQ(lines_of(lines_.str()).size(), 6u) << lines_.str();
}

TEST_F(TrainingProgressTest, ALongEpochGetsALineEveryThirtySecondsToo) {
  TrainingProgress p(sinks(std::nullopt));
  p.start();
  run_epoch(p, 0, 1000, 1.0);  // a tenth takes 100 s: lines at 30, 60, 90, 100 s, ...
  const std::vector<std::string> lines = lines_of(lines_.str());
  ASSERT_EQ(lines.size(), 40u) << lines_.str();
  EXPECT_EQ(lines[0].rfind("[dlnest] epoch 1 | 30/1000 | ", 0), 0u) << lines[0];
  EXPECT_EQ(lines[3].rfind("[dlnest] epoch 1 | 100/1000 | ", 0), 0u) << lines[3];
}

TEST_F(TrainingProgressTest, AResumedEpochCountsFromWhereItResumed) {
  TrainingProgress p(sinks(3));
  p.start();
  clock_.advance(5);  // start-up
  run_epoch(p, 1, 100, 0.5, /*first=*/40);
  const std::vector<std::string> lines = lines_of(lines_.str());
  ASSERT_EQ(lines.size(), 6u) << lines_.str();  // 50%, 60%, ... 100%
  EXPECT_EQ(lines[0].rfind("[dlnest] epoch 2/3 | 50/100 | 2.0 it/s | ETA 0:25 (run 1:15)", 0), 0u)
      << lines[0];
}

TEST_F(TrainingProgressTest, TheRecordHasRateEtasStagesAndScalars) {
  TempDir dir;
  auto file = std::make_unique<ProgressFile>(dir.path());
  ProgressSinks s = sinks(4);
  s.file = file.get();
  TrainingProgress p(std::move(s));
  p.start();
  Json r = p.record();
  EXPECT_EQ(r["stage"], "train");
  EXPECT_TRUE(r["epoch"].is_null());
  EXPECT_EQ(r["epochs"], 4);
  EXPECT_TRUE(r["it_per_s"].is_null());
  EXPECT_TRUE(r["eta_run_s"].is_null());

  run_epoch(p, 0, 10, 2.0);  // 20 s an epoch, the first step's time not counted
  p.stage(progress_stage::kValidation);
  clock_.advance(10);
  p.stage(progress_stage::kSave);
  clock_.advance(10);
  r = p.record();
  EXPECT_EQ(r["stage"], "save");
  EXPECT_EQ(r["epoch"], 0);
  EXPECT_EQ(r["step"], 10);
  EXPECT_EQ(r["steps_per_epoch"], 10);
  EXPECT_DOUBLE_EQ(r["it_per_s"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(r["eta_epoch_s"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(r["eta_run_s"].get<double>(), 60.0);  // 3 epochs of 20 s: no whole one timed
  EXPECT_DOUBLE_EQ(r["fraction"].get<double>(), 0.25);
  EXPECT_EQ(r["scalars"], (Json{{"loss", 0.1}}));
  EXPECT_EQ(r["pid"], 42);
  EXPECT_EQ(r["updated_at"], 1700000000.5);

  // The second epoch: 5 of 10 steps, and the whole first epoch (steps, validation, save) timed.
  run_epoch(p, 1, 10, 2.0);
  clock_.advance(20);
  StepProgress half;
  half.epoch = 2;
  half.step = 1;
  half.steps = 10;
  p.step(half);
  for (int i = 2; i <= 5; ++i) {
    clock_.advance(2.0);
    half.step = i;
    p.step(half);
  }
  r = p.record();
  EXPECT_EQ(r["stage"], "train");
  EXPECT_DOUBLE_EQ(r["eta_epoch_s"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(r["eta_run_s"].get<double>(), 10.0 + 40.0);  // the last epoch took 40 s
  EXPECT_DOUBLE_EQ(r["fraction"].get<double>(), (2 + 0.5) / 4);
  EXPECT_EQ(r["scalars"], Json::object());

  p.finish(progress_stage::kFinished);
  auto text = Env::default_env()->read_file(dir.file("progress.json"));
  ASSERT_TRUE(text.is_ok());
  const Json written = Json::parse(*text);
  EXPECT_EQ(written["stage"], "finished");
  EXPECT_EQ(written["fraction"], 1.0);
  EXPECT_EQ(written["eta_run_s"], 0.0);
  EXPECT_EQ(written["epoch"], 2);
}

TEST_F(TrainingProgressTest, AnInterruptedRunHasNoEta) {
  TempDir dir;
  ProgressFile file(dir.path());
  ProgressSinks s = sinks(4);
  s.file = &file;
  TrainingProgress p(std::move(s));
  p.start();
  run_epoch(p, 0, 10, 1.0);
  p.finish(progress_stage::kInterrupted);
  const Json written = Json::parse(*Env::default_env()->read_file(dir.file("progress.json")));
  EXPECT_EQ(written["stage"], "interrupted");
  EXPECT_TRUE(written["eta_run_s"].is_null());
  EXPECT_DOUBLE_EQ(written["fraction"].get<double>(), 0.25);
}

TEST(StepScalarsTest, TheLoggedScalarsAndTheLoss) {
  StepProgress s;
  EXPECT_TRUE(step_scalars(s).empty());
  s.loss = 0.5;
  EXPECT_EQ(step_scalars(s), (std::map<std::string, double>{{"loss", 0.5}}));
}

}  // namespace
}  // namespace dlnest
