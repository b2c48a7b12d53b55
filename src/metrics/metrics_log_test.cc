// The metrics files of a package, read back as a user would: line by line, and the TensorBoard
// event files with the real TensorBoard package (EventAccumulator).
#include "metrics/metrics_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <tuple>

#include "dlnest/config.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

MetricsRecord step(int64_t epoch, int64_t s, std::map<std::string, double> values) {
  return MetricsRecord{MetricsKind::kStep, epoch, s, 1000.0 + static_cast<double>(s),
                       std::move(values)};
}

/// "tag step value" lines from TensorBoard's EventAccumulator (its log on stderr, e.g. about a
/// purge, is left out); empty when it cannot run.
std::string tensorboard_scalars(const std::string& dir) {
  const std::string python = DLNEST_PYENV_PYTHON;
  const std::string command = python + " " + READ_EVENTS_PY + " " + dir + " 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  std::string out;
  std::array<char, 4096> buf;
  while (pipe && std::fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
  return out;
}

/// The (tag, step, value) triples of tensorboard_scalars()'s output.
std::set<std::tuple<std::string, int64_t, float>> parse_scalars(const std::string& text) {
  std::set<std::tuple<std::string, int64_t, float>> out;
  std::istringstream lines(text);
  for (std::string tag, value; lines >> tag;) {
    int64_t s = 0;
    lines >> s >> value;
    out.insert({tag, s, std::stof(value)});
  }
  return out;
}

class MetricsLogTest : public ::testing::Test {
 protected:
  std::unique_ptr<MetricsLog> open(std::optional<int64_t> resume = std::nullopt) {
    auto log = MetricsLog::open(dir_.path(), resume, 1000.0);
    EXPECT_TRUE(log.is_ok()) << log.status().message();
    return log.is_ok() ? std::move(log).value() : nullptr;
  }
  std::string file(const char* name) const { return dir_.file(name); }

  testing::TempDir dir_;
};

TEST_F(MetricsLogTest, WritesOneJsonLinePerRecord) {
  auto log = open();
  ASSERT_TRUE(log->write(step(0, 1, {{"loss", 0.5}, {"acc", 0.25}})).is_ok());
  ASSERT_TRUE(log->write({MetricsKind::kEpoch, 0, 1, 1001.5, {{"loss", 0.5}}}).is_ok());
  const auto lines = lines_of(file(MetricsLog::kJsonFile));
  ASSERT_EQ(lines.size(), 2u);
  const Json first = Json::parse(lines[0]);
  EXPECT_EQ(first["kind"], "step");
  EXPECT_EQ(first["step"], 1);
  EXPECT_EQ(first["epoch"], 0);
  EXPECT_DOUBLE_EQ(first["values"]["loss"].get<double>(), 0.5);
  EXPECT_EQ(Json::parse(lines[1])["kind"], "epoch");
}

TEST_F(MetricsLogTest, WritesCsvRowsWithOneHeader) {
  {
    auto log = open();
    ASSERT_TRUE(log->write(step(0, 1, {{"loss", 0.5}, {"a,b", 1}})).is_ok());
  }
  auto again = open();
  ASSERT_TRUE(again->write(step(0, 2, {{"loss", 0.25}})).is_ok());
  const auto lines = lines_of(file(MetricsLog::kCsvFile));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "kind,epoch,step,time,name,value");
  EXPECT_EQ(lines[1], "step,0,1,1001.000,\"a,b\",1");
  EXPECT_EQ(lines[2], "step,0,1,1001.000,loss,0.5");
  EXPECT_EQ(lines[3], "step,0,2,1002.000,loss,0.25");
}

TEST_F(MetricsLogTest, NonFiniteValuesAreNullInJson) {
  auto log = open();
  ASSERT_TRUE(log->write(step(0, 1, {{"loss", std::nan("")}})).is_ok());
  const Json line = Json::parse(lines_of(file(MetricsLog::kJsonFile))[0]);
  EXPECT_TRUE(line["values"]["loss"].is_null());
}

TEST_F(MetricsLogTest, AContinuedRunDropsTheStepsAfterItsCheckpointAndATornLine) {
  {
    auto log = open();
    for (int s = 1; s <= 10; ++s) ASSERT_TRUE(log->write(step(0, s, {{"loss", s}})).is_ok());
  }
  std::ofstream(file(MetricsLog::kJsonFile), std::ios::app) << R"({"kind":"step","ep)";
  auto log = open(/*resume_after_step=*/6);
  ASSERT_TRUE(log->write(step(0, 7, {{"loss", 70}})).is_ok());
  std::vector<int64_t> steps;
  for (const std::string& line : lines_of(file(MetricsLog::kJsonFile))) {
    steps.push_back(Json::parse(line)["step"].get<int64_t>());
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7}));
  const auto csv = lines_of(file(MetricsLog::kCsvFile));
  ASSERT_EQ(csv.size(), 8u);
  EXPECT_EQ(csv.back(), "step,0,7,1007.000,loss,70");
}

class TensorBoardTest : public MetricsLogTest {
 protected:
  void SetUp() override {
    if (::access(DLNEST_PYENV_PYTHON, X_OK) != 0) {
      GTEST_SKIP() << "no Python with TensorBoard at " << DLNEST_PYENV_PYTHON
                   << " (scripts/python_env.sh makes it; scripts/test.sh runs that)";
    }
  }
};

TEST_F(TensorBoardTest, TensorBoardReadsEveryScalarWithItsStepAndValue) {
  auto log = open();
  std::set<std::tuple<std::string, int64_t, float>> written;
  for (int s = 1; s <= 5; ++s) {
    const std::map<std::string, double> values = {{"loss", 1.0 / s}, {"lr", 0.1}, {"acc", s / 8.0}};
    ASSERT_TRUE(log->write(step(0, s, values)).is_ok());
    for (const auto& [name, v] : values) written.insert({name, s, static_cast<float>(v)});
  }
  ASSERT_TRUE(log->write({MetricsKind::kEpoch, 0, 5, 1006, {{"loss", 0.5}}}).is_ok());
  written.insert({"epoch/loss", 5, 0.5f});
  EXPECT_EQ(parse_scalars(tensorboard_scalars(dir_.file(MetricsLog::kTensorBoardDir))), written);
}

TEST_F(TensorBoardTest, AContinuedRunHasNoDuplicatedStepsInTensorBoard) {
  {
    auto log = open();
    for (int s = 1; s <= 8; ++s) ASSERT_TRUE(log->write(step(0, s, {{"loss", s}})).is_ok());
  }
  auto log = open(/*resume_after_step=*/4);
  for (int s = 5; s <= 6; ++s) ASSERT_TRUE(log->write(step(0, s, {{"loss", 10 * s}})).is_ok());
  const std::string scalars = tensorboard_scalars(dir_.file(MetricsLog::kTensorBoardDir));
  EXPECT_EQ(scalars,
            "loss 1 1.0\nloss 2 2.0\nloss 3 3.0\nloss 4 4.0\nloss 5 50.0\nloss 6 60.0\n");
}

}  // namespace
}  // namespace dlnest
