// The GPU memory of running tasks, measured: every few seconds the sampler asks the device probe
// for the memory of each GPU process (NVML's per-process use), sums it over the processes of each
// running task (its whole session: a DDP run's ranks included), and keeps the task's peak in the
// state database and in its save package (`_memory.json`). `-m auto` estimates from these peaks
// (server/memory_estimate.h).
//
// It runs on a thread of its own and never takes the dispatcher's lock: the probe, /proc and the
// database are read with no lock of the dispatcher held.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "devices/device_probe.h"
#include "dlnest/status.h"
#include "server/message_log.h"
#include "state/state_store.h"
#include "supervisor/task_runner.h"

namespace dlnest {

/// The file in a training's save package that holds its measured GPU memory
/// (docs/save_package.md).
inline constexpr const char* kPackageMemoryFile = "_memory.json";

/// Writes task `id`'s measured peak into its package's kPackageMemoryFile, as the state database
/// has it now: {"task_ID", "status", "peak_memory_mb", "memory_consumption", "memory_source",
/// "devices"}. Only for training tasks with a peak (an analysis task shares its package with the
/// training). Writes are serialised, so the last one holds the latest state.
Status write_package_memory(StateStore* store, const std::string& id);

class MemorySampler {
 public:
  /// None of the pointers is owned; all must outlive the sampler. `interval_s` > 0.
  MemorySampler(StateStore* store, DeviceProbe* probe, TaskRunner* runner, MessageLog* log,
                double interval_s);
  ~MemorySampler();
  MemorySampler(const MemorySampler&) = delete;
  MemorySampler& operator=(const MemorySampler&) = delete;

  /// Samples every interval on a thread until stop().
  void start();
  /// Stops the thread. Idempotent.
  void stop();
  /// One sample, on the calling thread: raises the peak of every running task whose processes
  /// now hold more, and rewrites its package's record when it rose.
  void sample_once();

 private:
  void loop();

  StateStore* store_;
  DeviceProbe* probe_;
  TaskRunner* runner_;
  MessageLog* log_;
  double interval_s_;

  std::mutex mu_;  // guards stopping_ only
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace dlnest
