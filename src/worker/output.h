// The worker's output: stdout and stderr appended to the package's _output.txt and, in the
// foreground, echoed to the terminal with a progress line below them.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "dlnest/status.h"

namespace dlnest {

class WorkerOutput {
 public:
  /// Redirects stdout and stderr to append to `file`; with `echo`, they also go to the
  /// terminal the worker was started on.
  static Result<std::unique_ptr<WorkerOutput>> redirect(const std::string& file, bool echo);
  /// Flushes everything still buffered and restores nothing (the process is ending).
  ~WorkerOutput();
  WorkerOutput(const WorkerOutput&) = delete;
  WorkerOutput& operator=(const WorkerOutput&) = delete;

  /// Whether a progress line can be drawn (echoing to a terminal).
  bool has_terminal() const { return tty_; }
  /// Replaces the progress line (terminal only; never written to the file).
  void show_progress(const std::string& line);
  void clear_progress();

 private:
  WorkerOutput(int file_fd, int terminal_fd, int pipe_fd);
  void pump();
  void write_terminal(const char* data, size_t size);

  int file_fd_;
  int terminal_fd_;
  int pipe_fd_;
  bool tty_ = false;
  bool progress_shown_ = false;
  std::mutex mu_;
  std::thread pump_;
};

}  // namespace dlnest
