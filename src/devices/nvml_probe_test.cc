#include "devices/nvml_probe.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <iostream>
#include <stdexcept>
#include <string>

#include "devices/testdata/fake_nvml.h"

namespace dlnest {
namespace {

constexpr unsigned long long kMiB = 1ULL << 20;
constexpr unsigned long long kGiB = 1ULL << 30;
constexpr int kGpuIsLost = 15;
constexpr int kUnknownError = 999;

/// A fake NVML library, opened by the test too (the same handle the probe gets), so the test
/// sets what NVML will answer through the control functions of fake_nvml.h.
class FakeNvml {
 public:
  explicit FakeNvml(const char* path) : path_(path), handle_(::dlopen(path, RTLD_NOW)) {
    if (handle_ == nullptr) ADD_FAILURE() << "cannot load " << path << ": " << ::dlerror();
  }
  ~FakeNvml() {
    if (handle_ != nullptr) ::dlclose(handle_);
  }

  const char* path() const { return path_; }

  /// The control function `name`, of the type `Fn` declared in fake_nvml.h.
  template <typename Fn>
  Fn* get(const char* name) const {
    void* symbol = ::dlsym(handle_, name);
    if (symbol == nullptr) throw std::runtime_error(std::string("fake NVML lacks ") + name);
    return reinterpret_cast<Fn*>(symbol);
  }

 private:
  const char* path_;
  void* handle_;
};

/// Calls the control function `fn` of the fake library `fake`.
#define FAKE(fake, fn) (fake).get<decltype(fn)>(#fn)

class FakeNvmlTest : public ::testing::Test {
 protected:
  FakeNvmlTest() : fake_(FAKE_NVML) {}
  void SetUp() override { FAKE(fake_, fake_nvml_reset)(); }

  FakeNvml fake_;
};

TEST_F(FakeNvmlTest, ReadsMemoryUtilisationAndProcesses) {
  FAKE(fake_, fake_nvml_add_gpu)("Fake H100", 80 * kGiB, 1000 * kMiB + 512 * 1024);
  FAKE(fake_, fake_nvml_set_utilization)(0, 37, 12);
  FAKE(fake_, fake_nvml_add_process)(0, 4242, 700 * kMiB);
  FAKE(fake_, fake_nvml_add_process)(0, 4343, ~0ULL);
  NvmlProbe probe(fake_.path());
  EXPECT_EQ(probe.notice(), "");

  DeviceSnapshot snapshot = probe.probe();
  ASSERT_EQ(snapshot.devices.size(), 2u);
  EXPECT_TRUE(snapshot.devices[0].is_cpu());
  const DeviceInfo& gpu = snapshot.devices[1];
  EXPECT_EQ(gpu.index, 0);
  EXPECT_EQ(gpu.name, "Fake H100");
  EXPECT_EQ(gpu.total_mb, 81920);
  EXPECT_EQ(gpu.used_mb, 1000);  // MiB, rounded down
  EXPECT_EQ(gpu.free_mb, 80919);
  EXPECT_EQ(gpu.gpu_util, 37);
  EXPECT_EQ(gpu.memory_util, 12);
  EXPECT_FALSE(gpu.broken);
  ASSERT_EQ(gpu.processes.size(), 2u);
  EXPECT_EQ(gpu.processes[0].pid, 4242);
  EXPECT_EQ(gpu.processes[0].used_mb, 700);
  EXPECT_EQ(gpu.processes[1].pid, 4343);
  EXPECT_EQ(gpu.processes[1].used_mb, -1);  // not available
  EXPECT_STREQ(FAKE(fake_, fake_nvml_last_process_query)(),
               "nvmlDeviceGetComputeRunningProcesses_v3");
  EXPECT_EQ(FAKE(fake_, fake_nvml_sizing_calls)(), 1);
  EXPECT_EQ(FAKE(fake_, fake_nvml_fill_calls)(), 1);
}

TEST_F(FakeNvmlTest, NoProcessNeedsOnlyTheSizingCall) {
  FAKE(fake_, fake_nvml_add_gpu)("Fake", 16 * kGiB, 0);
  NvmlProbe probe(fake_.path());
  EXPECT_TRUE(probe.probe().find(0)->processes.empty());
  EXPECT_EQ(FAKE(fake_, fake_nvml_sizing_calls)(), 1);
  EXPECT_EQ(FAKE(fake_, fake_nvml_fill_calls)(), 0);
}

TEST_F(FakeNvmlTest, ProcessesStartingBetweenSizingAndFillingAreRead) {
  FAKE(fake_, fake_nvml_add_gpu)("Fake", 16 * kGiB, 0);
  FAKE(fake_, fake_nvml_add_process)(0, 1, kMiB);
  FAKE(fake_, fake_nvml_grow_after_sizing)(0, 10);  // more than the probe's slack
  NvmlProbe probe(fake_.path());
  DeviceSnapshot snapshot = probe.probe();
  EXPECT_FALSE(snapshot.find(0)->broken) << snapshot.find(0)->error;
  EXPECT_EQ(snapshot.find(0)->processes.size(), 11u);
  EXPECT_EQ(FAKE(fake_, fake_nvml_fill_calls)(), 2);
}

TEST_F(FakeNvmlTest, ProcessMemoryAsksForTheProcessesAlone) {
  FAKE(fake_, fake_nvml_add_gpu)("Fake A", 16 * kGiB, 0);
  FAKE(fake_, fake_nvml_add_gpu)("Fake B", 16 * kGiB, 0);
  FAKE(fake_, fake_nvml_add_gpu)("Fake C", 16 * kGiB, 0);
  FAKE(fake_, fake_nvml_add_process)(0, 4242, 700 * kMiB);
  FAKE(fake_, fake_nvml_add_process)(0, 4343, ~0ULL);  // not available: left out
  FAKE(fake_, fake_nvml_add_process)(1, 4242, 300 * kMiB + 512 * 1024);
  FAKE(fake_, fake_nvml_add_process)(2, 5000, kGiB);
  // The memory query of GPU 1 fails, so probe() has it broken; its processes are still read.
  FAKE(fake_, fake_nvml_fail_memory)(1, kGpuIsLost);
  FAKE(fake_, fake_nvml_fail_processes)(2, kGpuIsLost);  // GPU 2 answers nothing: left out
  NvmlProbe probe(fake_.path());
  const std::vector<ProcessMemoryUse> uses = probe.process_memory();
  ASSERT_EQ(uses.size(), 2u);
  EXPECT_EQ(uses[0].gpu, 0);
  EXPECT_EQ(uses[0].pid, 4242);
  EXPECT_EQ(uses[0].used_mb, 700);
  EXPECT_EQ(uses[1].gpu, 1);
  EXPECT_EQ(uses[1].pid, 4242);
  EXPECT_EQ(uses[1].used_mb, 300);
  EXPECT_EQ(memory_of_processes(uses, {4242}), 1000);
  EXPECT_EQ(memory_of_processes(uses, {1, 4343}), 0);
  EXPECT_TRUE(probe.probe().find(1)->broken);
}

TEST_F(FakeNvmlTest, WithoutNvmlThereIsNoProcessMemory) {
  FAKE(fake_, fake_nvml_fail_init)(kUnknownError);
  NvmlProbe probe(fake_.path());
  EXPECT_TRUE(probe.process_memory().empty());
}

TEST_F(FakeNvmlTest, FailedMemoryQueryMarksTheGpuBrokenUntilItWorksAgain) {
  FAKE(fake_, fake_nvml_add_gpu)("Fake A", 16 * kGiB, 0);
  FAKE(fake_, fake_nvml_add_gpu)("Fake B", 16 * kGiB, 2 * kGiB);
  FAKE(fake_, fake_nvml_fail_memory)(1, kGpuIsLost);
  NvmlProbe probe(fake_.path());

  DeviceSnapshot snapshot = probe.probe();
  ASSERT_EQ(snapshot.gpu_count(), 2);
  EXPECT_FALSE(snapshot.find(0)->broken);
  const DeviceInfo& broken = *snapshot.find(1);
  EXPECT_TRUE(broken.broken);
  EXPECT_EQ(broken.error, "nvmlDeviceGetMemoryInfo: GPU is lost");
  EXPECT_EQ(broken.name, "Fake B");
  EXPECT_EQ(broken.total_mb, 0);
  EXPECT_EQ(broken.free_mb, 0);

  FAKE(fake_, fake_nvml_fail_memory)(1, 0);
  snapshot = probe.probe();
  EXPECT_FALSE(snapshot.find(1)->broken);
  EXPECT_EQ(snapshot.find(1)->error, "");
  EXPECT_EQ(snapshot.find(1)->used_mb, 2048);
}

TEST_F(FakeNvmlTest, UnsupportedReadingsAreNotFailures) {
  FAKE(fake_, fake_nvml_add_gpu)("Fake MIG", 16 * kGiB, 0);
  FAKE(fake_, fake_nvml_fail_utilization)(0, 3);  // Not Supported
  FAKE(fake_, fake_nvml_fail_processes)(0, 4);    // Insufficient Permissions
  NvmlProbe probe(fake_.path());
  const DeviceInfo gpu = *probe.probe().find(0);
  EXPECT_FALSE(gpu.broken) << gpu.error;
  EXPECT_EQ(gpu.total_mb, 16384);
  EXPECT_EQ(gpu.gpu_util, 0);
  EXPECT_TRUE(gpu.processes.empty());
}

TEST_F(FakeNvmlTest, FailedUtilisationOrProcessQueryMarksTheGpuBroken) {
  FAKE(fake_, fake_nvml_add_gpu)("Fake A", 16 * kGiB, 0);
  FAKE(fake_, fake_nvml_add_gpu)("Fake B", 16 * kGiB, 0);
  FAKE(fake_, fake_nvml_fail_utilization)(0, kUnknownError);
  FAKE(fake_, fake_nvml_fail_processes)(1, kUnknownError);
  NvmlProbe probe(fake_.path());
  DeviceSnapshot snapshot = probe.probe();
  EXPECT_EQ(snapshot.find(0)->error, "nvmlDeviceGetUtilizationRates: Unknown Error");
  EXPECT_EQ(snapshot.find(1)->error, "nvmlDeviceGetComputeRunningProcesses_v3: Unknown Error");
  EXPECT_EQ(snapshot.find(1)->total_mb, 0);
}

TEST_F(FakeNvmlTest, FailedCountKeepsTheKnownGpusAsBroken) {
  FAKE(fake_, fake_nvml_add_gpu)("Fake A", 16 * kGiB, 0);
  FAKE(fake_, fake_nvml_add_gpu)("Fake B", 16 * kGiB, 0);
  NvmlProbe probe(fake_.path());
  ASSERT_EQ(probe.probe().gpu_count(), 2);

  FAKE(fake_, fake_nvml_fail_count)(kUnknownError);
  DeviceSnapshot snapshot = probe.probe();
  ASSERT_EQ(snapshot.gpu_count(), 2);
  EXPECT_TRUE(snapshot.find(1)->broken);
  EXPECT_EQ(snapshot.find(1)->name, "GPU 1");
  EXPECT_EQ(snapshot.find(1)->error, "nvmlDeviceGetCount_v2: Unknown Error");

  FAKE(fake_, fake_nvml_fail_count)(0);
  EXPECT_EQ(probe.probe().find(1)->name, "Fake B");
}

TEST_F(FakeNvmlTest, InitFailureMeansTheCpuOnlyWithANotice) {
  FAKE(fake_, fake_nvml_add_gpu)("Fake", 16 * kGiB, 0);
  FAKE(fake_, fake_nvml_fail_init)(9);  // Driver Not Loaded
  NvmlProbe probe(fake_.path());
  EXPECT_EQ(probe.notice(), "no GPU: " + std::string(fake_.path()) +
                                ": nvmlInit_v2: Driver Not Loaded; using the CPU only");
  DeviceSnapshot snapshot = probe.probe();
  ASSERT_EQ(snapshot.devices.size(), 1u);
  EXPECT_TRUE(snapshot.devices[0].is_cpu());
}

TEST_F(FakeNvmlTest, ShutsNvmlDownWhenDestroyed) {
  {
    NvmlProbe probe(fake_.path());
    EXPECT_EQ(FAKE(fake_, fake_nvml_init_depth)(), 1);
  }
  EXPECT_EQ(FAKE(fake_, fake_nvml_init_depth)(), 0);
}

/// Reads processes from a fake that has only older versions of the process query.
void expect_processes_through(const FakeNvml& fake, const char* symbol) {
  FAKE(fake, fake_nvml_reset)();
  FAKE(fake, fake_nvml_add_gpu)("Fake", 16 * kGiB, kGiB);
  FAKE(fake, fake_nvml_add_process)(0, 77, 300 * kMiB);
  FAKE(fake, fake_nvml_add_process)(0, 78, 400 * kMiB);
  NvmlProbe probe(fake.path());
  const DeviceInfo gpu = *probe.probe().find(0);
  EXPECT_FALSE(gpu.broken) << gpu.error;
  EXPECT_STREQ(FAKE(fake, fake_nvml_last_process_query)(), symbol);
  ASSERT_EQ(gpu.processes.size(), 2u);
  EXPECT_EQ(gpu.processes[1].pid, 78);
  EXPECT_EQ(gpu.processes[1].used_mb, 400);
}

TEST(NvmlProbeFallbackTest, UsesV2WithoutV3) {
  expect_processes_through(FakeNvml(FAKE_NVML_V2), "nvmlDeviceGetComputeRunningProcesses_v2");
}

TEST(NvmlProbeFallbackTest, UsesTheUnversionedQueryWithoutV3AndV2) {
  expect_processes_through(FakeNvml(FAKE_NVML_V1), "nvmlDeviceGetComputeRunningProcesses");
}

TEST(NvmlProbeFallbackTest, MissingRequiredSymbolMeansTheCpuOnly) {
  NvmlProbe probe(FAKE_NVML_NO_MEMORY);
  EXPECT_EQ(probe.notice(), "no GPU: " + std::string(FAKE_NVML_NO_MEMORY) +
                                " lacks nvmlDeviceGetMemoryInfo (not NVML, or a driver too old); "
                                "using the CPU only");
  EXPECT_EQ(probe.probe().devices.size(), 1u);
}

TEST(NvmlProbeTest, MissingLibraryMeansTheCpuOnlyWithANotice) {
  NvmlProbe probe("libdlnest-no-such-nvml.so.1");
  EXPECT_EQ(probe.notice().rfind("no GPU: cannot load libdlnest-no-such-nvml.so.1: ", 0), 0u)
      << probe.notice();
  EXPECT_NE(probe.notice().find("; using the CPU only"), std::string::npos);
  for (int i = 0; i < 2; ++i) {
    DeviceSnapshot snapshot = probe.probe();
    ASSERT_EQ(snapshot.devices.size(), 1u);
    EXPECT_TRUE(snapshot.devices[0].is_cpu());
  }
}

bool nvml_loadable() {
  void* handle = ::dlopen(kNvmlLibrary, RTLD_NOW | RTLD_LOCAL);
  if (handle != nullptr) ::dlclose(handle);
  return handle != nullptr;
}

TEST(NvmlProbeTest, WithoutNvmlOnThisMachineTheCpuOnly) {
  if (nvml_loadable()) GTEST_SKIP() << kNvmlLibrary << " is present here";
  NvmlProbe probe;
  EXPECT_NE(probe.notice().find(kNvmlLibrary), std::string::npos) << probe.notice();
  EXPECT_EQ(probe.probe().devices.size(), 1u);
}

TEST(NvmlProbeTest, RealGpus_CUDA) {
  if (!nvml_loadable()) GTEST_SKIP() << "no " << kNvmlLibrary << " on this machine";
  NvmlProbe probe;
  EXPECT_EQ(probe.notice(), "");
  DeviceSnapshot snapshot = probe.probe();
  EXPECT_GE(snapshot.gpu_count(), 1);
  for (const DeviceInfo& device : snapshot.devices) {
    std::cout << "device " << device.index << " " << device.name << ": " << device.total_mb
              << " MB total, " << device.free_mb << " MB free, " << device.used_mb
              << " MB used, gpu " << device.gpu_util << "%, memory " << device.memory_util << "%, "
              << device.processes.size() << " processes"
              << (device.broken ? ", broken: " + device.error : "") << "\n";
    for (const GpuProcess& process : device.processes) {
      std::cout << "  pid " << process.pid << ": " << process.used_mb << " MB\n";
    }
    if (device.is_cpu()) continue;
    EXPECT_FALSE(device.broken) << device.error;
    EXPECT_GT(device.total_mb, 0);
    EXPECT_EQ(device.total_mb >= device.used_mb, true);
  }
}

}  // namespace
}  // namespace dlnest
