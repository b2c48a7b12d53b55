// MetricsRecorder in one process: step records, epoch aggregates, the epoch record's order of
// sources, and the state a checkpoint keeps.
#include "sdk/metrics_recorder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace dlnest {
namespace {

class StepRunner : public Runner {
 public:
  void init(const Json&, const Json&) override {}
  void run_one_step(Batch&, Json&, int, int) override {}
};

class MetricsRecorderTest : public ::testing::Test {
 protected:
  StepRunner runner_;
  MetricsRecorder recorder_{nullptr, torch::kCPU};

  /// One step of epoch 0 that logs `value` under every aggregation.
  MetricsRecord step(double value) {
    runner_.log("mean", value);
    runner_.log("min", value, LogOptions().aggregation(Aggregation::kMin));
    runner_.log("max", torch::tensor(value), LogOptions().aggregation(Aggregation::kMax));
    runner_.log("last", value, LogOptions().aggregation(Aggregation::kLast));
    return recorder_.step(runner_, 0);
  }
};

TEST_F(MetricsRecorderTest, StepsAreCountedAndCarryWhatWasLoggedInThem) {
  recorder_.start_epoch();
  const MetricsRecord first = step(2);
  EXPECT_EQ(first.kind, MetricsKind::kStep);
  EXPECT_EQ(first.step, 1);
  EXPECT_EQ(first.values, (std::map<std::string, double>{
                              {"last", 2}, {"max", 2}, {"mean", 2}, {"min", 2}}));
  runner_.log("loss", 0.5);
  runner_.log("loss", 0.25);  // the second value of a step replaces the first
  const MetricsRecord second = recorder_.step(runner_, 0);
  EXPECT_EQ(second.step, 2);
  EXPECT_EQ(second.values, (std::map<std::string, double>{{"loss", 0.25}}));
  EXPECT_TRUE(recorder_.step(runner_, 0).values.empty()) << "nothing logged, still a step";
  EXPECT_EQ(recorder_.global_step(), 3);
  EXPECT_EQ(recorder_.latest().at("loss"), 0.25);
}

TEST_F(MetricsRecorderTest, TheEpochRecordAggregatesAfterTheLogAndBeforeLogEpoch) {
  recorder_.start_epoch();
  for (double v : {4.0, 1.0, 7.0}) step(v);
  runner_.log_epoch("val_acc", torch::tensor(0.75));
  runner_.log_epoch("max", 100.0);  // log_epoch wins over the aggregate of the same name
  const Json log = {{"mean", 9}, {"acc", {0.5, 0.6}}, {"done", true}, {"name", "x"}};
  const MetricsRecord epoch = recorder_.epoch_end(runner_, 0, 1.5, log);
  EXPECT_EQ(epoch.kind, MetricsKind::kEpoch);
  EXPECT_EQ(epoch.step, 3) << "the epoch's last step";
  EXPECT_EQ(epoch.values, (std::map<std::string, double>{{"acc", 0.6},
                                                         {"done", 1},
                                                         {"last", 7},
                                                         {"max", 100},
                                                         {"mean", 4},
                                                         {"min", 1},
                                                         {"seconds", 1.5},
                                                         {"val_acc", 0.75}}));
  recorder_.start_epoch();
  EXPECT_EQ(recorder_.epoch_end(runner_, 1, 0.5, Json::object()).values,
            (std::map<std::string, double>{{"seconds", 0.5}}))
      << "a new epoch starts without aggregates";
}

TEST_F(MetricsRecorderTest, AContinuedRecorderAggregatesLikeTheUninterruptedOne) {
  recorder_.start_epoch();
  step(std::numeric_limits<double>::quiet_NaN());
  step(3);
  MetricsRecorder continued(nullptr, torch::kCPU);
  continued.restore(Json::parse(recorder_.state().dump()));
  EXPECT_EQ(continued.global_step(), 2);
  for (MetricsRecorder* r : {&recorder_, &continued}) {
    runner_.log("min", 1.0, LogOptions().aggregation(Aggregation::kMin));
    runner_.log("last", 5.0, LogOptions().aggregation(Aggregation::kLast));
    r->step(runner_, 0);
  }
  const auto a = recorder_.epoch_end(runner_, 0, 0, Json::object()).values;
  const auto b = continued.epoch_end(runner_, 0, 0, Json::object()).values;
  EXPECT_EQ(a.at("last"), 5);
  EXPECT_EQ(b.at("last"), 5);
  for (const char* name : {"mean", "min", "max"}) {
    EXPECT_TRUE(std::isnan(a.at(name)) && std::isnan(b.at(name))) << name << ": a NaN stays";
  }
  EXPECT_THROW(continued.restore(Json{{"step", 1}, {"aggregates", {{"x", {{"count", 1}}}}}}),
               std::invalid_argument);
}

TEST_F(MetricsRecorderTest, ATensorOfMoreThanOneElementIsRefusedWithItsName) {
  try {
    runner_.log("loss", torch::ones({2, 3}));
    FAIL() << "no error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace())
                  .find("log(\"loss\"): expected a tensor of one element, but got shape [2, 3]"),
              std::string::npos)
        << e.what_without_backtrace();
  }
  EXPECT_THROW(runner_.log("", 1.0), c10::Error);
  EXPECT_THROW(runner_.log_epoch("acc", torch::Tensor()), c10::Error);
}

}  // namespace
}  // namespace dlnest
