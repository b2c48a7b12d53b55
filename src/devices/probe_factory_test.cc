#include "devices/probe_factory.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <optional>

#include "testing/scoped_env.h"

namespace dlnest {
namespace {

constexpr char kNoNvml[] = "libdlnest-no-such-nvml.so.1";

std::string parse_error(const std::string& spec) {
  Result<std::vector<std::int64_t>> totals = parse_simulated_gpus(spec);
  EXPECT_FALSE(totals.is_ok()) << spec;
  return totals.status().message();
}

TEST(ProbeFactoryTest, ParsesSimulatedSpecs) {
  EXPECT_EQ(*parse_simulated_gpus("sim:24000,12000"), (std::vector<std::int64_t>{24000, 12000}));
  EXPECT_EQ(*parse_simulated_gpus("sim:80"), (std::vector<std::int64_t>{80}));
  EXPECT_TRUE(parse_simulated_gpus("sim:")->empty());
}

TEST(ProbeFactoryTest, MalformedSpecsSayWhatIsWrong) {
  const std::string expected =
      "expected \"sim:MB[,MB...]\", the memory of each simulated GPU (e.g. \"sim:24000,24000\")";
  EXPECT_EQ(parse_error("24000"), expected);
  EXPECT_EQ(parse_error("SIM:24000"), expected);
  EXPECT_EQ(parse_error("sim:24000,abc"), "GPU 1: expected a whole number of MB, got \"abc\"");
  EXPECT_EQ(parse_error("sim:24000,"), "GPU 1: expected a whole number of MB, got \"\"");
  EXPECT_EQ(parse_error("sim:,1"), "GPU 0: expected a whole number of MB, got \"\"");
  EXPECT_EQ(parse_error("sim:-5"), "GPU 0: expected a whole number of MB, got \"-5\"");
  EXPECT_EQ(parse_error("sim: 5"), "GPU 0: expected a whole number of MB, got \" 5\"");
  EXPECT_EQ(parse_error("sim:0"), "GPU 0: a GPU needs more than 0 MB");
  EXPECT_EQ(parse_error("sim:99999999999999999999999"),
            "GPU 0: 99999999999999999999999 MB is more than the limit of 1073741824 MB");
  EXPECT_EQ(parse_error("sim:1073741825"),
            "GPU 0: 1073741825 MB is more than the limit of 1073741824 MB");
  std::string many = "sim:1";
  for (int i = 0; i < kMaxSimulatedGpus; ++i) many += ",1";
  EXPECT_EQ(parse_error(many), "more than 64 simulated GPUs");
}

TEST(ProbeFactoryTest, NothingAskedMeansNvml) {
  ProbeSelection selection;
  selection.nvml_library = kNoNvml;
  Result<std::unique_ptr<DeviceProbe>> probe = make_probe(selection);
  ASSERT_TRUE(probe.is_ok());
  EXPECT_NE((*probe)->notice().find(kNoNvml), std::string::npos) << (*probe)->notice();
  EXPECT_EQ((*probe)->probe().devices.size(), 1u);
}

TEST(ProbeFactoryTest, EnvironmentAsksForSimulatedGpus) {
  ProbeSelection selection;
  selection.env_spec = "sim:24000,24000";
  Result<std::unique_ptr<DeviceProbe>> probe = make_probe(selection);
  ASSERT_TRUE(probe.is_ok());
  EXPECT_EQ((*probe)->probe().gpu_count(), 2);
  EXPECT_EQ((*probe)->notice(), "simulated GPUs, not real hardware: 24000 MB, 24000 MB");
}

TEST(ProbeFactoryTest, FlagWinsOverEnvironment) {
  ProbeSelection selection;
  selection.flag_spec = "sim:1000";
  selection.env_spec = "sim:24000,24000";
  Result<std::unique_ptr<DeviceProbe>> probe = make_probe(selection);
  ASSERT_TRUE(probe.is_ok());
  EXPECT_EQ((*probe)->probe().gpu_count(), 1);
  EXPECT_EQ((*probe)->probe().find(0)->total_mb, 1000);
}

TEST(ProbeFactoryTest, MalformedSpecIsAnErrorNamingItsSource) {
  ProbeSelection selection;
  selection.env_spec = "sim:24000,x";
  Result<std::unique_ptr<DeviceProbe>> probe = make_probe(selection);
  ASSERT_FALSE(probe.is_ok());
  EXPECT_EQ(probe.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(
      probe.status().message(),
      "DLNEST_SIMULATED_GPUS=\"sim:24000,x\": GPU 1: expected a whole number of MB, got \"x\"");

  selection.flag_spec = "24000";
  probe = make_probe(selection);
  ASSERT_FALSE(probe.is_ok());
  EXPECT_EQ(probe.status().message().rfind("--simulated-gpus=\"24000\": expected \"sim:", 0), 0u)
      << probe.status().message();
}

TEST(ProbeFactoryTest, SelectionReadsTheEnvironment) {
  {
    testing::ScopedEnv env(kSimulatedGpusEnv, "sim:16000");
    ProbeSelection selection = ProbeSelection::from_environment("sim:8000");
    EXPECT_EQ(selection.flag_spec, "sim:8000");
    EXPECT_EQ(selection.env_spec, "sim:16000");
    EXPECT_EQ(selection.nvml_library, "libnvidia-ml.so.1");
  }
  testing::ScopedEnv unset(kSimulatedGpusEnv, nullptr);
  ProbeSelection selection = ProbeSelection::from_environment("");
  EXPECT_EQ(selection.flag_spec, "");
  EXPECT_EQ(selection.env_spec, "");
  {
    testing::ScopedEnv nvml(kNvmlLibraryEnv, "/opt/driver/libnvidia-ml.so.1");
    EXPECT_EQ(ProbeSelection::from_environment("").nvml_library, "/opt/driver/libnvidia-ml.so.1");
  }
  testing::ScopedEnv empty(kNvmlLibraryEnv, "");
  EXPECT_EQ(ProbeSelection::from_environment("").nvml_library, "libnvidia-ml.so.1");
}

}  // namespace
}  // namespace dlnest
