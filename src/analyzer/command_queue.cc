#include "analyzer/command_queue.h"

#include <chrono>

namespace dlnest {
namespace {

/// How often the thread looks at the spool when no command comes on the socket.
constexpr int kPollMs = 200;

}  // namespace

Result<std::unique_ptr<CommandQueue>> CommandQueue::start(const std::string& socket_path,
                                                          Resolve resolve) {
  DLNEST_ASSIGN_OR_RETURN(CommandListener listener, CommandListener::listen(socket_path));
  std::unique_ptr<CommandQueue> queue(new CommandQueue(std::move(listener), std::move(resolve)));
  queue->thread_ = std::thread([q = queue.get()] { q->take_commands_in(); });
  return queue;
}

CommandQueue::~CommandQueue() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

bool CommandQueue::empty() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.empty();
}

QueuedCommand CommandQueue::pop() {
  std::unique_lock<std::mutex> lock(mu_);
  ready_.wait(lock, [this] { return !queue_.empty(); });
  QueuedCommand command = std::move(queue_.front());
  queue_.pop_front();
  return command;
}

void CommandQueue::push(const std::string& command, Result<std::string> source) {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(QueuedCommand{command, std::move(source)});
  ready_.notify_one();
}

void CommandQueue::take_commands_in() {
  while (!stop_) {
    Result<std::optional<std::string>> command = listener_.next(kPollMs);
    // Commands spooled before this one was sent go first.
    Result<std::vector<std::string>> spooled = take_spooled_commands(listener_.spool());
    if (spooled.is_ok()) {
      for (const std::string& c : *spooled) push(c, resolve_(c));
    }
    if (!command.is_ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
      continue;
    }
    if (!command->has_value()) continue;
    Result<std::string> source = resolve_(**command);
    listener_.reply(source.status());
    push(**command, std::move(source));
  }
}

}  // namespace dlnest
