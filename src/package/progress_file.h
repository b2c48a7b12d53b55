// progress.json: where a task stands, replaced atomically in its save package by the build stage
// (`dlnest build-package`) and by the worker's rank 0 (docs/training.md, "Progress"). Readers
// (the server's task info, /get_task_progress, the dashboard) read it with read_progress().
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "dlnest/config.h"  // Json
#include "dlnest/status.h"

namespace dlnest {

/// The file a task's progress is replaced in atomically (DESIGN.md section 11).
inline constexpr const char* kProgressFile = "progress.json";

/// The values of progress.json's "stage".
namespace progress_stage {
inline constexpr const char* kBuild = "build";              ///< the build stage compiles the plugin
inline constexpr const char* kTrain = "train";              ///< training steps
inline constexpr const char* kValidation = "validation";    ///< the epoch's validation
inline constexpr const char* kSave = "save";                ///< the epoch's checkpoint
inline constexpr const char* kFinished = "finished";        ///< the LifeCycle ended the run
inline constexpr const char* kInterrupted = "interrupted";  ///< stopped by a signal, resumable
inline constexpr const char* kFailed = "failed";            ///< an error ended the build or run
}  // namespace progress_stage

/// How often progress.json is written at most.
inline constexpr std::chrono::milliseconds kProgressInterval(250);

/// Wall-clock seconds since the Unix epoch, with a fraction (progress.json's "updated_at").
double unix_time_now();

/// Replaces `<dir>/progress.json` by `progress` atomically: written to progress.json.tmp (a link
/// or anything but a regular file in that place is refused, never followed), then renamed over
/// it, so a reader sees the previous state or the new one whole. Not fsynced: it is a view of the
/// moment, rewritten a few times a second.
Status write_progress_file(const std::string& dir, const Json& progress);

/// A progress record for people, on one line: "epoch 3/4 | 60/100 | 12.3 it/s | ETA 0:03 (run
/// 0:45) | loss 0.3521", "epoch 3/4 | validation", "build 3/7 (43%) | compiling". Epochs are
/// counted from 1 here (the record's "epoch" is the trainer's, from 0). Fields missing or of the
/// wrong type are left out, and text from the file (stage, scalar names) is stripped of control
/// characters and shortened, so a hostile file cannot drive a terminal. "" for a non-object.
std::string format_progress_line(const Json& progress);

/// The same, short, for a table column: "e 3/4 60% 12.3it/s ETA 0:45" (the epoch's share done,
/// the run's ETA when known, else the epoch's), "e 3/4 validation", "build 43%", "finished";
/// "-" for null or a non-object.
std::string format_progress_cell(const Json& progress);

/// "0:18", "12:05", "1:02:03".
std::string format_eta(double seconds);

/// Writes progress.json from a thread of its own, at most once per `interval`: publish() only
/// keeps the latest state, so a training loop never waits for the disk, however often it reports.
/// The first failure to write is printed once to stderr; the run goes on.
class ProgressFile {
 public:
  explicit ProgressFile(std::string dir, std::chrono::milliseconds interval = kProgressInterval);
  /// Writes what is still unwritten and stops the thread (as close() without a last state).
  ~ProgressFile();
  ProgressFile(const ProgressFile&) = delete;
  ProgressFile& operator=(const ProgressFile&) = delete;

  /// The state to write next; replaces one not yet written.
  void publish(Json progress);
  /// Writes `last` now (after a write in flight) and stops the thread; later publishes are
  /// dropped. Returns the result of that write.
  Status close(Json last);
  /// How many times the file was written so far.
  int64_t writes() const;

 private:
  void run();
  Status write(const Json& progress);

  const std::string dir_;
  const std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::optional<Json> pending_;
  bool closing_ = false;
  bool closed_ = false;
  bool warned_ = false;
  int64_t writes_ = 0;
  std::mutex write_mu_;  // one write at a time: the thread's and close()'s
  std::thread thread_;
};

}  // namespace dlnest
