// The part of NVML that DLNest uses, declared here (no nvml.h, no CUDA needed to build) and
// loaded at run time with dlopen.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "dlnest/status.h"

namespace dlnest {

/// The default NVML library; the driver installs it, the CUDA toolkit is not needed.
constexpr char kNvmlLibrary[] = "libnvidia-ml.so.1";

namespace nvml {

/// nvmlReturn_t: 0 is success.
using Return = int;
constexpr Return kSuccess = 0;
constexpr Return kErrorNotSupported = 3;
constexpr Return kErrorNoPermission = 4;
constexpr Return kErrorInsufficientSize = 7;

/// nvmlDevice_t, an opaque handle.
using Device = struct DeviceOpaque*;

/// Length of a name buffer that fits every device name (NVML_DEVICE_NAME_V2_BUFFER_SIZE).
constexpr unsigned kNameBufferSize = 96;
/// usedGpuMemory when the driver cannot tell (NVML_VALUE_NOT_AVAILABLE).
constexpr unsigned long long kValueNotAvailable = ~0ULL;

/// nvmlMemory_t, in bytes.
struct Memory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

/// nvmlUtilization_t, in percent.
struct Utilization {
  unsigned int gpu;
  unsigned int memory;
};

/// nvmlProcessInfo_v1_t, filled by the unversioned nvmlDeviceGetComputeRunningProcesses.
struct ProcessInfoV1 {
  unsigned int pid;
  unsigned long long used_gpu_memory;
};
static_assert(sizeof(ProcessInfoV1) == 16, "nvmlProcessInfo_v1_t is 16 bytes");

/// nvmlProcessInfo_t (v2), filled by the _v2 and _v3 process queries.
struct ProcessInfoV2 {
  unsigned int pid;
  unsigned long long used_gpu_memory;
  unsigned int gpu_instance_id;
  unsigned int compute_instance_id;
};
static_assert(sizeof(ProcessInfoV2) == 24, "nvmlProcessInfo_t is 24 bytes");

using InitFn = Return (*)();
using ShutdownFn = Return (*)();
using GetCountFn = Return (*)(unsigned int* count);
using GetHandleFn = Return (*)(unsigned int index, Device* device);
using GetNameFn = Return (*)(Device device, char* name, unsigned int length);
using GetMemoryFn = Return (*)(Device device, Memory* memory);
using GetUtilizationFn = Return (*)(Device device, Utilization* utilization);
/// Any version of nvmlDeviceGetComputeRunningProcesses; `infos` points to records of the size
/// that version fills.
using GetProcessesFn = Return (*)(Device device, unsigned int* count, void* infos);
using ErrorStringFn = const char* (*)(Return result);

}  // namespace nvml

/// The NVML functions DLNest calls. A versioned symbol falls back to older versions when the
/// driver lacks it (nvmlInit_v2 -> nvmlInit, ..._v3 -> ..._v2 -> unversioned).
struct NvmlFunctions {
  nvml::GetCountFn get_count = nullptr;
  nvml::GetHandleFn get_handle = nullptr;
  nvml::GetNameFn get_name = nullptr;
  nvml::GetMemoryFn get_memory = nullptr;
  nvml::GetUtilizationFn get_utilization = nullptr;
  /// The newest process query the library has; null if it has none.
  nvml::GetProcessesFn get_processes = nullptr;
  /// The name of that query's symbol, for messages.
  const char* processes_symbol = nullptr;
  /// True when get_processes fills ProcessInfoV2 records (_v3, _v2), false for ProcessInfoV1.
  bool processes_fill_v2 = false;
};

/// An initialised NVML: the library handle and its functions. nvmlShutdown and dlclose run when
/// it is destroyed, so it must outlive every device handle obtained from it.
class NvmlLibrary {
 public:
  /// Loads `path`, resolves the functions and calls nvmlInit. Errors name the library and the
  /// missing symbol, or the NVML error.
  static Result<std::unique_ptr<NvmlLibrary>> open(const std::string& path);

  ~NvmlLibrary();
  NvmlLibrary(const NvmlLibrary&) = delete;
  NvmlLibrary& operator=(const NvmlLibrary&) = delete;

  const NvmlFunctions& functions() const { return functions_; }

  /// "<function>: <NVML's text for result>", for a call that returned `result`.
  std::string error(const char* function, nvml::Return result) const;

 private:
  NvmlLibrary(std::string path, void* handle) : path_(std::move(path)), handle_(handle) {}

  Status resolve();
  Status init();

  std::string path_;
  void* handle_;
  NvmlFunctions functions_;
  nvml::InitFn init_ = nullptr;
  nvml::ShutdownFn shutdown_ = nullptr;
  nvml::ErrorStringFn error_string_ = nullptr;
  bool initialised_ = false;
};

}  // namespace dlnest
