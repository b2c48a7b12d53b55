#include "server/memory_estimate.h"

#include <gtest/gtest.h>

namespace dlnest {
namespace {

const char kBad[] = "memory_consumption must be a positive number of MB, -1 (the default) or auto";

TEST(MemoryEstimateTest, ParsesNumbersTheDefaultAndAuto) {
  EXPECT_TRUE(parse_memory_request("auto")->automatic);
  EXPECT_FALSE(parse_memory_request("3000")->automatic);
  EXPECT_EQ(parse_memory_request("3000")->mb, 3000);
  EXPECT_EQ(parse_memory_request("-1")->mb, kDefaultMemoryMb);
  for (const char* bad :
       {"autox", "Auto", "", "0", "-5", "12MB", " 12", "1e3", "99999999999999999999"}) {
    Result<MemoryRequest> parsed = parse_memory_request(bad);
    ASSERT_FALSE(parsed.is_ok()) << bad;
    EXPECT_EQ(parsed.status().code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(parsed.status().message(), std::string(kBad) + "; got \"" + bad + "\"");
  }
}

TEST(MemoryEstimateTest, TheEstimateIsThePeakTimesTheMarginRoundedUpTo256Mb) {
  EXPECT_EQ(auto_estimate_mb(3120), 3840);  // 3744 -> 15 x 256
  EXPECT_EQ(auto_estimate_mb(1280), 1536);  // exactly 1536: not rounded further
  EXPECT_EQ(auto_estimate_mb(1281), 1792);
  EXPECT_EQ(auto_estimate_mb(1), 256);
  EXPECT_EQ(auto_estimate_mb(0), 256);
  EXPECT_EQ(auto_estimate_mb(80000), 96000);
}

TEST(MemoryEstimateTest, TheConfigDigestIgnoresThePackageFolderAndTheSeed) {
  const Json a = {{"save_root", "/p/Saves"},
                  {"root_file_path", "/p/Saves/run1"},
                  {"seed", 1},
                  {"model", {{"width", 64}}}};
  Json b = a;
  b["root_file_path"] = "/p/Saves/run2";
  b["seed"] = 2;
  EXPECT_EQ(config_digest(TaskType::kTrain, a), config_digest(TaskType::kTrain, b));
  EXPECT_EQ(config_digest(TaskType::kTrain, a).size(), 16u);
  Json wider = a;
  wider["model"]["width"] = 128;
  EXPECT_NE(config_digest(TaskType::kTrain, a), config_digest(TaskType::kTrain, wider));
  Json other_project = a;
  other_project["save_root"] = "/q/Saves";
  EXPECT_NE(config_digest(TaskType::kTrain, a), config_digest(TaskType::kTrain, other_project));
  EXPECT_NE(config_digest(TaskType::kTrain, a), config_digest(TaskType::kAnalyze, a));
}

TEST(MemoryEstimateTest, ChoosesGivenDefaultOrTheLastPeak) {
  MemoryChoice given = choose_memory(MemoryRequest{3000, false}, std::nullopt);
  EXPECT_EQ(given.memory_mb, 3000);
  EXPECT_EQ(given.source, "given");
  MemoryChoice by_default = choose_memory(MemoryRequest{}, std::nullopt);
  EXPECT_EQ(by_default.memory_mb, kDefaultMemoryMb);
  EXPECT_EQ(by_default.source, "default");

  MemoryChoice no_history = choose_memory(MemoryRequest{kDefaultMemoryMb, true}, std::nullopt);
  EXPECT_EQ(no_history.memory_mb, kDefaultMemoryMb);
  EXPECT_EQ(no_history.source, "auto: no peak recorded for this project and config; the default");

  TaskRecord last;
  last.id = "T_12";
  last.peak_memory_mb = 3120;
  MemoryChoice from_peak = choose_memory(MemoryRequest{kDefaultMemoryMb, true}, last);
  EXPECT_EQ(from_peak.memory_mb, 3840);
  EXPECT_EQ(from_peak.source, "auto: peak 3120 MB of T_12 x1.2, rounded up to 256 MB");
  // A number given with auto is ignored (the request is auto).
  EXPECT_EQ(choose_memory(MemoryRequest{100, true}, last).memory_mb, 3840);
}

}  // namespace
}  // namespace dlnest
