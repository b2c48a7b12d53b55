// A fake libnvidia-ml for NvmlProbe's tests: it exports the NVML functions DLNest uses, with
// results set through fake_nvml.h. Built in variants that lack some symbols (FAKE_NVML_NO_V3,
// FAKE_NVML_NO_V2, FAKE_NVML_NO_MEMORY_INFO) to test the fallbacks. Its declarations are written
// from NVML's documentation, independently of the probe's, so a layout mistake shows.
#include "fake_nvml.h"

#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace {

constexpr int kSuccess = 0;
constexpr int kUninitialized = 1;
constexpr int kInvalidArgument = 2;
constexpr int kInsufficientSize = 7;

struct ErrorText {
  int result;
  const char* text;
};

/// NVML's texts for the results the tests use.
constexpr ErrorText kErrorTexts[] = {
    {kSuccess, "Success"},
    {kUninitialized, "Uninitialized"},
    {kInvalidArgument, "Invalid Argument"},
    {3, "Not Supported"},
    {4, "Insufficient Permissions"},
    {kInsufficientSize, "Insufficient Size"},
    {9, "Driver Not Loaded"},
    {15, "GPU is lost"},
};

struct Process {
  unsigned pid;
  unsigned long long used;
};

struct Gpu {
  std::string name;
  unsigned long long total = 0;
  unsigned long long used = 0;
  unsigned gpu_util = 0;
  unsigned memory_util = 0;
  int memory_error = kSuccess;
  int utilization_error = kSuccess;
  int processes_error = kSuccess;
  std::vector<Process> processes;
  unsigned grow_after_sizing = 0;
};

struct State {
  int init_error = kSuccess;
  int count_error = kSuccess;
  int init_depth = 0;
  int sizing_calls = 0;
  int fill_calls = 0;
  const char* last_process_query = "";
  std::vector<Gpu> gpus;
};

/// Every exported function holds this lock: a server's threads and the test call at once.
std::recursive_mutex& lock_of_state() {
  static std::recursive_mutex mu;
  return mu;
}

State& state() {
  static State s;
  return s;
}

/// The GPU behind a handle (index + 1), or null when NVML is not initialised or it is unknown.
Gpu* gpu_of(void* device) {
  const auto index = reinterpret_cast<std::uintptr_t>(device) - 1;
  if (state().init_depth == 0 || index >= state().gpus.size()) return nullptr;
  return &state().gpus[index];
}

struct Memory {
  unsigned long long total, free, used;
};
struct Utilization {
  unsigned gpu, memory;
};
struct ProcessInfoV1 {
  unsigned pid;
  unsigned long long usedGpuMemory;
};
struct ProcessInfoV2 {
  unsigned pid;
  unsigned long long usedGpuMemory;
  unsigned gpuInstanceId, computeInstanceId;
};

/// NVML's count-then-fill protocol: too small a buffer (or none) gets the needed count and
/// kInsufficientSize; no process and no buffer is a success.
template <typename Record>
int query_processes(const char* symbol, void* device, unsigned* count, Record* infos) {
  State& s = state();
  s.last_process_query = symbol;
  Gpu* gpu = gpu_of(device);
  if (gpu == nullptr || count == nullptr) return kInvalidArgument;
  if (gpu->processes_error != kSuccess) return gpu->processes_error;
  ++(infos == nullptr ? s.sizing_calls : s.fill_calls);
  const unsigned needed = static_cast<unsigned>(gpu->processes.size());
  if (infos == nullptr || *count < needed) {
    *count = needed;
    for (; gpu->grow_after_sizing > 0; --gpu->grow_after_sizing) {
      gpu->processes.push_back({90000 + gpu->grow_after_sizing, 1ULL << 20});
    }
    return needed == 0 ? kSuccess : kInsufficientSize;
  }
  for (unsigned i = 0; i < needed; ++i) {
    infos[i] = Record{};
    infos[i].pid = gpu->processes[i].pid;
    infos[i].usedGpuMemory = gpu->processes[i].used;
  }
  *count = needed;
  return kSuccess;
}

}  // namespace

extern "C" {

void fake_nvml_reset() {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  state() = State();
}
void fake_nvml_fail_init(int result) {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  state().init_error = result;
}
void fake_nvml_fail_count(int result) {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  state().count_error = result;
}
int fake_nvml_add_gpu(const char* name, unsigned long long total, unsigned long long used) {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  Gpu gpu;
  gpu.name = name;
  gpu.total = total;
  gpu.used = used;
  state().gpus.push_back(gpu);
  return static_cast<int>(state().gpus.size()) - 1;
}
void fake_nvml_set_utilization(int index, unsigned gpu, unsigned memory) {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  state().gpus.at(index).gpu_util = gpu;
  state().gpus.at(index).memory_util = memory;
}
void fake_nvml_fail_memory(int index, int result) {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  state().gpus.at(index).memory_error = result;
}
void fake_nvml_fail_utilization(int index, int result) {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  state().gpus.at(index).utilization_error = result;
}
void fake_nvml_fail_processes(int index, int result) {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  state().gpus.at(index).processes_error = result;
}
void fake_nvml_add_process(int index, unsigned pid, unsigned long long used) {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  state().gpus.at(index).processes.push_back({pid, used});
}
void fake_nvml_clear_processes(int index) {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  state().gpus.at(index).processes.clear();
}
void fake_nvml_grow_after_sizing(int index, unsigned extra) {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  state().gpus.at(index).grow_after_sizing = extra;
}
int fake_nvml_sizing_calls() {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  return state().sizing_calls;
}
int fake_nvml_fill_calls() {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  return state().fill_calls;
}
int fake_nvml_init_depth() {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  return state().init_depth;
}
const char* fake_nvml_last_process_query() {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  return state().last_process_query;
}

int nvmlInit_v2() {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  if (state().init_error != kSuccess) return state().init_error;
  ++state().init_depth;
  return kSuccess;
}

int nvmlShutdown() {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  if (state().init_depth == 0) return kUninitialized;
  --state().init_depth;
  return kSuccess;
}

const char* nvmlErrorString(int result) {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  for (const ErrorText& error : kErrorTexts) {
    if (error.result == result) return error.text;
  }
  return "Unknown Error";
}

int nvmlDeviceGetCount_v2(unsigned* count) {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  if (state().init_depth == 0) return kUninitialized;
  if (state().count_error != kSuccess) return state().count_error;
  *count = static_cast<unsigned>(state().gpus.size());
  return kSuccess;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned index, void** device) {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  if (state().init_depth == 0) return kUninitialized;
  if (index >= state().gpus.size()) return kInvalidArgument;
  *device = reinterpret_cast<void*>(std::uintptr_t{index} + 1);
  return kSuccess;
}

int nvmlDeviceGetName(void* device, char* name, unsigned length) {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  Gpu* gpu = gpu_of(device);
  if (gpu == nullptr) return kInvalidArgument;
  if (length < gpu->name.size() + 1) return kInsufficientSize;
  std::memcpy(name, gpu->name.c_str(), gpu->name.size() + 1);
  return kSuccess;
}

#ifndef FAKE_NVML_NO_MEMORY_INFO
int nvmlDeviceGetMemoryInfo(void* device, Memory* memory) {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  Gpu* gpu = gpu_of(device);
  if (gpu == nullptr) return kInvalidArgument;
  if (gpu->memory_error != kSuccess) return gpu->memory_error;
  *memory = {gpu->total, gpu->total - gpu->used, gpu->used};
  return kSuccess;
}
#endif

int nvmlDeviceGetUtilizationRates(void* device, Utilization* utilization) {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  Gpu* gpu = gpu_of(device);
  if (gpu == nullptr) return kInvalidArgument;
  if (gpu->utilization_error != kSuccess) return gpu->utilization_error;
  *utilization = {gpu->gpu_util, gpu->memory_util};
  return kSuccess;
}

#ifndef FAKE_NVML_NO_V3
int nvmlDeviceGetComputeRunningProcesses_v3(void* device, unsigned* count, ProcessInfoV2* infos) {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  return query_processes("nvmlDeviceGetComputeRunningProcesses_v3", device, count, infos);
}
#endif

#ifndef FAKE_NVML_NO_V2
int nvmlDeviceGetComputeRunningProcesses_v2(void* device, unsigned* count, ProcessInfoV2* infos) {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  return query_processes("nvmlDeviceGetComputeRunningProcesses_v2", device, count, infos);
}
#endif

int nvmlDeviceGetComputeRunningProcesses(void* device, unsigned* count, ProcessInfoV1* infos) {
  std::lock_guard<std::recursive_mutex> lock(lock_of_state());
  return query_processes("nvmlDeviceGetComputeRunningProcesses", device, count, infos);
}

}  // extern "C"
