#include "client/shell.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "client/line_reader.h"
#include "client/shell_commands.h"
#include "client/tables.h"
#include "dlnest/env.h"
#include "env/path.h"

namespace dlnest {

namespace {

double system_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// The output text of a reply, plain or styled ([[style, text], ...]).
std::string reply_text(const Json& reply) {
  const Json text = reply.is_object() ? reply.value("text", Json("")) : Json("");
  if (text.is_string()) return text.get<std::string>();
  std::string out;
  if (text.is_array()) {
    for (const Json& piece : text) {
      if (piece.is_array() && piece.size() == 2 && piece[1].is_string()) {
        out += piece[1].get<std::string>();
      }
    }
  }
  return out;
}

/// The `offset` a request asked for, or -1.
int64_t asked_offset(const ApiRequest& request) {
  for (const auto& [name, value] : request.params) {
    if (name == "offset") return std::strtoll(value.c_str(), nullptr, 10);
  }
  return -1;
}

std::string history_file(const std::string& state_dir) {
  if (state_dir.empty()) return "";
  Env* env = Env::default_env();
  if (!env->is_directory(state_dir)) {
    if (!env->create_dirs(state_dir).is_ok()) return "";
    ::chmod(state_dir.c_str(), 0700);
  }
  return path::join(state_dir, "shell_history");
}

class Shell {
 public:
  Shell(ApiClient& client, const ShellOptions& options, LineReader& reader)
      : client_(client),
        options_(options),
        reader_(reader),
        out_(options.output != nullptr ? *options.output : std::cout),
        err_(options.errors != nullptr ? *options.errors : std::cerr) {
    context_.cwd = options.cwd.empty() ? path::absolute(".") : options.cwd;
    const char* home = std::getenv("HOME");
    context_.home = home != nullptr ? home : "";
  }

  int run() {
    if (reader_.interactive()) greet();
    while (true) {
      const std::optional<std::string> line = reader_.read_line(options_.prompt);
      if (!line) break;
      if (!execute(*line)) break;
    }
    if (reader_.interactive()) out_ << "\n";
    return failed_ && !reader_.interactive() ? 1 : 0;
  }

 private:
  void greet() {
    out_ << "DLNest shell on " << client_.url() << "; type help for the commands.\n";
    Result<Json> info = client_.get("/get_server_info");
    if (info.is_ok()) {
      out_ << "server " << json_string(*info, "version") << ", state in "
           << json_string(*info, "state_dir") << "\n";
    } else {
      report(info.status());
    }
  }

  /// Runs one line; false when the shell should stop.
  bool execute(const std::string& line) {
    Result<ShellCommand> command = parse_shell_command(line, context_);
    if (!command.is_ok()) {
      report(command.status());
      return true;
    }
    if (command->action == ShellAction::kExit) return false;
    const Status status = perform(*command);
    if (!status.is_ok()) report(status);
    if (status.code() != Status::Code::kIOError) poll_watched();
    return true;
  }

  Status perform(const ShellCommand& command) {
    switch (command.action) {
      case ShellAction::kNothing:
      case ShellAction::kExit:
        return Status::ok();
      case ShellAction::kHelp: {
        Result<std::string> help = shell_help(command.topic);
        if (help.is_ok()) out_ << *help;
        return help.status();
      }
      case ShellAction::kWithdraw:
        out_ << (context_.watched_task.empty() ? "not watching any task"
                                               : "stopped watching " + context_.watched_task)
             << "\n";
        return apply_reply(command, Json::object(), context_);
      default:
        break;
    }
    Result<Json> reply = client_.send(command.request);
    if (!reply.is_ok()) return reply.status();
    DLNEST_RETURN_IF_ERROR(apply_reply(command, *reply, context_));
    print_reply(command, *reply);
    return Status::ok();
  }

  void print_reply(const ShellCommand& command, const Json& reply) {
    switch (command.action) {
      case ShellAction::kRequest:
        out_ << command.done << "\n";
        break;
      case ShellAction::kSubmit:
        print_submitted(reply);
        break;
      case ShellAction::kShowTasks:
        out_ << format_task_table(reply.value("info", Json::array()), now());
        break;
      case ShellAction::kShowDevices:
        out_ << format_device_table(reply.value("info", Json::array()));
        break;
      case ShellAction::kShowOutput:
        if (!print_output(command, reply)) out_ << "(nothing new)\n";
        break;
      case ShellAction::kWatch:
        out_ << "watching " << command.task_id
             << ": its new output follows every command (withdraw to stop)\n";
        break;
      default:
        break;
    }
  }

  void print_submitted(const Json& reply) {
    const std::string id = json_string(reply, "task_ID");
    out_ << "started " << (id.empty() ? "a task" : id);
    const std::string package = json_string(reply, "record_path");
    if (!package.empty()) out_ << ", package " << package;
    if (id.rfind("A_", 0) == 0) out_ << " (watch " << id << " to follow its output)";
    out_ << "\n";
  }

  /// Prints the new text of an output reply; false when there was none.
  bool print_output(const ShellCommand& command, const Json& reply) {
    const int64_t asked = asked_offset(command.request);
    const int64_t got = json_int(reply, "offset", 0);
    if (asked >= 0 && got > asked) {
      out_ << "[... " << (got - asked) << " bytes the server no longer holds ...]\n";
    }
    const std::string text = reply_text(reply);
    out_ << text;
    if (!text.empty() && text.back() != '\n') out_ << "\n";
    return !text.empty() || (asked >= 0 && got > asked);
  }

  /// Prints what the watched task wrote since the last look.
  void poll_watched() {
    const std::optional<ShellCommand> poll = watch_poll_command(context_);
    if (!poll) return;
    Result<Json> reply = client_.send(poll->request);
    if (!reply.is_ok()) {
      report(reply.status().with_context("watching " + context_.watched_task));
      if (reply.status().code() != Status::Code::kIOError) {
        out_ << "stopped watching " << context_.watched_task << "\n";
        context_.watched_task.clear();
      }
      return;
    }
    print_output(*poll, *reply);
    apply_reply(*poll, *reply, context_);
  }

  void report(const Status& status) {
    failed_ = true;
    err_ << "error: " << status.message() << "\n";
  }

  double now() const { return options_.clock ? options_.clock() : system_now(); }

  ApiClient& client_;
  const ShellOptions& options_;
  LineReader& reader_;
  std::ostream& out_;
  std::ostream& err_;
  ShellContext context_;
  bool failed_ = false;
};

}  // namespace

ShellOptions ShellOptions::for_client(const ClientOptions& client) {
  ShellOptions options;
  options.state_dir = resolve_state_dir(client.state_dir);
  return options;
}

int run_shell(ApiClient& client, const ShellOptions& options) {
  std::unique_ptr<LineReader> reader;
  if (options.input != nullptr) {
    reader = new_stream_reader(*options.input);
  } else if (::isatty(STDIN_FILENO) != 0) {
    reader = new_editline_reader(history_file(options.state_dir));
  } else {
    reader = new_stream_reader(std::cin);
  }
  return Shell(client, options, *reader).run();
}

}  // namespace dlnest
