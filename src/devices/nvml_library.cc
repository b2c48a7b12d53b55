#include "devices/nvml_library.h"

#include <dlfcn.h>

#include <initializer_list>

namespace dlnest {

namespace {

/// A version of the process query and the records it fills.
struct ProcessQuery {
  const char* symbol;
  bool fills_v2;
};

/// The process queries, newest first.
constexpr ProcessQuery kProcessQueries[] = {
    {"nvmlDeviceGetComputeRunningProcesses_v3", true},
    {"nvmlDeviceGetComputeRunningProcesses_v2", true},
    {"nvmlDeviceGetComputeRunningProcesses", false},
};

std::string dl_error() {
  const char* error = ::dlerror();
  return error != nullptr ? error : "unknown error";
}

/// The first of `names` that `handle` exports, or null.
void* find_symbol(void* handle, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (void* symbol = ::dlsym(handle, name)) return symbol;
  }
  return nullptr;
}

/// Sets `*out` to the first of `names` that `handle` exports; fails naming the newest one.
template <typename Fn>
Status require(void* handle, const std::string& path, Fn* out,
               std::initializer_list<const char*> names) {
  void* symbol = find_symbol(handle, names);
  if (symbol == nullptr) {
    return Status::not_found(path + " lacks " + *names.begin() +
                             " (not NVML, or a driver too old)");
  }
  *out = reinterpret_cast<Fn>(symbol);
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<NvmlLibrary>> NvmlLibrary::open(const std::string& path) {
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return Status::not_found("cannot load " + path + ": " + dl_error());
  std::unique_ptr<NvmlLibrary> library(new NvmlLibrary(path, handle));
  DLNEST_RETURN_IF_ERROR(library->resolve());
  DLNEST_RETURN_IF_ERROR(library->init());
  return Result<std::unique_ptr<NvmlLibrary>>(std::move(library));
}

NvmlLibrary::~NvmlLibrary() {
  if (initialised_) shutdown_();
  ::dlclose(handle_);
}

Status NvmlLibrary::resolve() {
  NvmlFunctions& f = functions_;
  DLNEST_RETURN_IF_ERROR(require(handle_, path_, &init_, {"nvmlInit_v2", "nvmlInit"}));
  DLNEST_RETURN_IF_ERROR(require(handle_, path_, &shutdown_, {"nvmlShutdown"}));
  DLNEST_RETURN_IF_ERROR(
      require(handle_, path_, &f.get_count, {"nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"}));
  DLNEST_RETURN_IF_ERROR(require(handle_, path_, &f.get_handle,
                                 {"nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"}));
  DLNEST_RETURN_IF_ERROR(require(handle_, path_, &f.get_name, {"nvmlDeviceGetName"}));
  DLNEST_RETURN_IF_ERROR(require(handle_, path_, &f.get_memory, {"nvmlDeviceGetMemoryInfo"}));
  DLNEST_RETURN_IF_ERROR(
      require(handle_, path_, &f.get_utilization, {"nvmlDeviceGetUtilizationRates"}));
  error_string_ = reinterpret_cast<nvml::ErrorStringFn>(find_symbol(handle_, {"nvmlErrorString"}));
  for (const ProcessQuery& query : kProcessQueries) {
    if (void* symbol = ::dlsym(handle_, query.symbol)) {
      f.get_processes = reinterpret_cast<nvml::GetProcessesFn>(symbol);
      f.processes_symbol = query.symbol;
      f.processes_fill_v2 = query.fills_v2;
      break;
    }
  }
  return Status::ok();
}

Status NvmlLibrary::init() {
  const nvml::Return result = init_();
  if (result != nvml::kSuccess) {
    return Status::failed_precondition(path_ + ": " + error("nvmlInit_v2", result));
  }
  initialised_ = true;
  return Status::ok();
}

std::string NvmlLibrary::error(const char* function, nvml::Return result) const {
  const char* text = error_string_ != nullptr ? error_string_(result) : nullptr;
  return std::string(function) + ": " +
         (text != nullptr ? text : "NVML error " + std::to_string(result));
}

}  // namespace dlnest
