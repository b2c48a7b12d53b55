// TensorBoard event files written by DLNest itself: TFRecord framing (length, masked CRC-32C of
// the length, data, masked CRC-32C of the data) around `Event` protocol buffers, encoded here for
// the few fields scalars need. TensorBoard reads them as it reads PyTorch's SummaryWriter's.
#pragma once

#include <cstdint>
#include <string>

#include "dlnest/status.h"
#include "env/unique_fd.h"

namespace dlnest {

/// The bytes of an `Event` holding one scalar: wall_time (1), step (2), summary (5) with one
/// value {tag (1), simple_value (2)}.
std::string encode_scalar_event(double wall_time, int64_t step, const std::string& tag,
                                float value);
/// The first event of a file: wall_time and file_version (3) "brain.Event:2".
std::string encode_file_version_event(double wall_time);
/// A session-log START (7: {status (1) = START}) at `step`: TensorBoard then drops the events of
/// earlier files at this step and after, so a run continued from a checkpoint has no
/// duplicated steps.
std::string encode_session_start_event(double wall_time, int64_t step);
/// `data` framed as one TFRecord.
std::string frame_record(const std::string& data);

/// One event file in a folder, appended one record per write(2), so that a crash loses at most
/// the record being written.
class EventFileWriter {
 public:
  /// Creates `<dir>/events.out.tfevents.<seconds>.<host>.<pid>.<n>` (creating `dir`) and writes
  /// the file-version event; a `restart_step` >= 0 also writes a session START at that step.
  static Result<EventFileWriter> create(const std::string& dir, double wall_time,
                                        int64_t restart_step);

  Status add_scalar(double wall_time, int64_t step, const std::string& tag, float value);
  const std::string& path() const { return path_; }

 private:
  Status append(const std::string& event);

  std::string path_;
  UniqueFd fd_;
};

}  // namespace dlnest
