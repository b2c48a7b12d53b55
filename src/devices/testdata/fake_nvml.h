// The control side of the fake NVML library: tests dlopen the fake by path, resolve these with
// dlsym, and set what the NVML functions it exports will answer.
#pragma once

extern "C" {

/// Forgets every GPU, failure and counter.
void fake_nvml_reset();
/// Makes nvmlInit_v2 return `result` (0: succeed).
void fake_nvml_fail_init(int result);
/// Makes nvmlDeviceGetCount_v2 return `result` (0: succeed).
void fake_nvml_fail_count(int result);
/// Adds a GPU with these sizes in bytes (free is total - used); returns its index.
int fake_nvml_add_gpu(const char* name, unsigned long long total, unsigned long long used);
/// Sets the utilisation percentages GPU `index` reports.
void fake_nvml_set_utilization(int index, unsigned gpu, unsigned memory);
/// Makes the memory, utilisation or process query of GPU `index` return `result` (0: succeed).
void fake_nvml_fail_memory(int index, int result);
void fake_nvml_fail_utilization(int index, int result);
void fake_nvml_fail_processes(int index, int result);
/// Adds a compute process on GPU `index`; `used` in bytes, ~0ULL for "not available".
void fake_nvml_add_process(int index, unsigned pid, unsigned long long used);
/// Forgets the compute processes of GPU `index`.
void fake_nvml_clear_processes(int index);
/// After the next sizing call on GPU `index`, `extra` more processes start.
void fake_nvml_grow_after_sizing(int index, unsigned extra);
/// Process queries made with count 0 (sizing) and with a buffer (filling).
int fake_nvml_sizing_calls();
int fake_nvml_fill_calls();
/// nvmlInit calls minus nvmlShutdown calls.
int fake_nvml_init_depth();
/// The symbol of the last process query called, or "".
const char* fake_nvml_last_process_query();
}
