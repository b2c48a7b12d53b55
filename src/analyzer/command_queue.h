// The analyzer's queue of commands: a thread takes every command the moment it arrives (on the
// socket, or from the spool of those sent before the analyzer listened), answers the sender at
// once, and queues it; the analyzer runs them one after the other. So a command sent while a
// script compiles or runs is answered at once and runs next, in the order sent.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "analyzer/command_channel.h"
#include "dlnest/status.h"

namespace dlnest {

/// A command taken in: what was sent and the script file it names (or why it names none).
struct QueuedCommand {
  std::string command;
  Result<std::string> source = Status::not_found("no command");
};

class CommandQueue {
 public:
  /// Finds the script file a command names; its error is the sender's answer.
  using Resolve = std::function<Result<std::string>(const std::string& command)>;

  /// Listens on `socket_path` and starts taking commands in.
  static Result<std::unique_ptr<CommandQueue>> start(const std::string& socket_path,
                                                     Resolve resolve);
  /// Stops taking commands in (within a poll interval) and removes the socket.
  ~CommandQueue();

  /// Whether no command waits.
  bool empty() const;
  /// The oldest waiting command; blocks until there is one.
  QueuedCommand pop();

 private:
  CommandQueue(CommandListener listener, Resolve resolve)
      : listener_(std::move(listener)), resolve_(std::move(resolve)) {}
  void take_commands_in();
  void push(const std::string& command, Result<std::string> source);

  CommandListener listener_;  // used by the thread only
  Resolve resolve_;
  std::atomic<bool> stop_{false};
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::deque<QueuedCommand> queue_;  // guarded by mu_
};

}  // namespace dlnest
