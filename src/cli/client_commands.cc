// `dlnest analyze`, `exp`, `del`, `tasks`, `devices`, `output` and `shell`: clients of a running
// server.
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "analyzer/command_channel.h"
#include "cli/commands.h"
#include "client/shell.h"
#include "client/tables.h"
#include "dlnest/env.h"
#include "env/path.h"
#include "package/progress_file.h"

namespace dlnest::cli {

namespace {

/// How often `dlnest output --follow` asks for new output.
constexpr std::chrono::milliseconds kFollowInterval(1000);
/// How often `dlnest exp` asks for its script's output.
constexpr std::chrono::milliseconds kExpInterval(250);

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void add_analyze(CLI::App& app, int& exit_code, const ClientOptions& client) {
  auto* cmd = app.add_subcommand("analyze", "Start an analysis task on a save package");
  auto record = std::make_shared<std::string>();
  auto checkpoint = std::make_shared<int>(-1);
  auto scripts = std::make_shared<std::string>();
  auto memory = std::make_shared<std::string>();
  auto cpu = std::make_shared<bool>(false);
  auto foreground = std::make_shared<bool>(false);
  cmd->add_option("-r,--record", *record, "the save package, or the id of its task")->required();
  cmd->add_option("-c,--checkpoint", *checkpoint,
                  "checkpoint to load (default -1: the latest; -2: none)");
  cmd->add_option("-s,--scripts", *scripts,
                  "folder of the experiment scripts (default: the package's AnalyzeScripts/)");
  cmd->add_option("-m,--memory", *memory,
                  "GPU memory the task needs in MB, or auto (from the last measured peak)")
      ->check(memory_validator());
  cmd->add_flag("--cpu", *cpu, "run on the CPU");
  auto gpu = std::make_shared<int>(-1);
  cmd->add_option("--gpu", *gpu, "with --foreground: run on GPU number ID");
  cmd->add_flag("--foreground", *foreground,
                "run the script given with -s FILE.cpp in this terminal, then exit");
  cmd->callback([=, &exit_code, &client] {
    if (*foreground) {
      // One shot, like the original DLNest.Analyze: -s names the script file.
      if (scripts->empty() || !memory->empty()) {
        exit_code = usage_error(
            "dlnest analyze --foreground runs one script: give it with -s FILE.cpp (-m is for "
            "tasks submitted to a server)");
        return;
      }
    }
    Result<std::string> package = package_dir_of(client, *record);
    if (!package.is_ok()) {
      exit_code = fail(package.status());
      return;
    }
    if (*foreground) {
      WorkerInvocation w;
      w.mode = WorkerInvocation::Mode::kAnalyze;
      w.package_dir = *package;
      w.checkpoint_id = *checkpoint;
      w.script = path::absolute(*scripts);
      if (*gpu >= 0) w.gpus = {*gpu};
      exit_code = exec_worker(w);
      return;
    }
    ApiParams params = {{"record_path", *package}, {"checkpoint_ID", std::to_string(*checkpoint)}};
    if (!scripts->empty()) params.emplace_back("script_path", path::absolute(*scripts));
    if (!memory->empty() && *memory != "-1") params.emplace_back("memory_consumption", *memory);
    if (*cpu) params.emplace_back("CPU", "True");
    exit_code = submit_task(client, "/analyze", params);
  });
}

void add_del(CLI::App& app, int& exit_code, const ClientOptions& client) {
  auto* cmd = app.add_subcommand("del", "Delete tasks: stop running ones, drop queued ones");
  auto ids = std::make_shared<std::vector<std::string>>();
  cmd->add_option("ID", *ids, "task ids")->required();
  cmd->callback([=, &exit_code, &client] {
    ApiClient api(client);
    for (const std::string& id : *ids) {
      Result<Json> reply = api.post("/del_task", {{"task_ID", id}});
      if (reply.is_ok()) {
        std::cout << "deleted " << id << "\n";
      } else {
        exit_code = fail(reply.status());
      }
    }
  });
}

/// The `info` list of a reply.
Result<Json> info_of(ApiClient& api, const std::string& path, const ApiParams& params = {}) {
  Result<Json> reply = api.get(path, params);
  if (!reply.is_ok()) return reply.status();
  return reply->value("info", Json::array());
}

void add_tasks(CLI::App& app, int& exit_code, const ClientOptions& client) {
  auto* cmd = app.add_subcommand("tasks", "List the pending and running tasks");
  auto all = std::make_shared<bool>(false);
  auto history = std::make_shared<bool>(false);
  auto json = std::make_shared<bool>(false);
  auto limit = std::make_shared<int>(100);
  auto* all_flag = cmd->add_flag("--all", *all, "ended tasks too (oldest first), then the rest");
  cmd->add_flag("--history", *history, "only the ended tasks (oldest first)")->excludes(all_flag);
  cmd->add_option("-n,--limit", *limit, "how many ended tasks at most")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("--json", *json, "print the server's task info as JSON");
  cmd->callback([=, &exit_code, &client] {
    ApiClient api(client);
    Json tasks = Json::array();
    if (*all || *history) {
      Result<Json> ended = info_of(api, "/get_task_history", {{"limit", std::to_string(*limit)}});
      if (!ended.is_ok()) {
        exit_code = fail(ended.status());
        return;
      }
      tasks = *ended;
    }
    if (!*history) {
      Result<Json> current = info_of(api, "/get_task_info");
      if (!current.is_ok()) {
        exit_code = fail(current.status());
        return;
      }
      for (const Json& task : *current) tasks.push_back(task);
    }
    std::cout << (*json ? tasks.dump(2) + "\n" : format_task_table(tasks, unix_now()));
  });
}

void add_devices(CLI::App& app, int& exit_code, const ClientOptions& client) {
  auto* cmd = app.add_subcommand("devices", "List the devices, their memory and their tasks");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "print the server's device info as JSON");
  cmd->callback([=, &exit_code, &client] {
    ApiClient api(client);
    Result<Json> devices = info_of(api, "/get_devices_info");
    if (!devices.is_ok()) {
      exit_code = fail(devices.status());
      return;
    }
    std::cout << (*json ? devices->dump(2) + "\n" : format_device_table(*devices));
  });
}

/// Prints task `id`'s output from `offset` up to what the server holds now, or without an offset
/// its last `max_bytes` (0: the server's default); returns the offset to continue from. With
/// `last`, the last character printed is left there.
Result<int64_t> print_output(ApiClient& api, const std::string& id, std::optional<int64_t> offset,
                             int64_t max_bytes, char* last = nullptr) {
  while (true) {
    ApiParams params = {{"task_ID", id}};
    if (offset) params.emplace_back("offset", std::to_string(*offset));
    if (max_bytes > 0) params.emplace_back("max_bytes", std::to_string(max_bytes));
    Result<Json> reply = api.get("/get_task_output", params);
    if (!reply.is_ok()) return reply.status();
    const int64_t start = json_int(*reply, "offset", 0);
    if (offset && start > *offset) {
      std::cerr << "[dlnest] " << (start - *offset) << " bytes of output are no longer kept\n";
    }
    const std::string text = json_string(*reply, "text");
    std::cout << text << std::flush;
    if (last != nullptr && !text.empty()) *last = text.back();
    const int64_t next = json_int(*reply, "next_offset", start);
    const bool more = offset && next > *offset && next < json_int(*reply, "size", next);
    offset = next;
    if (!more) return next;
  }
}

/// The status of a task info entry once the task has ended ("Finished", "Failed", "Killed"),
/// else "".
std::string ended_status_of(const Json& info) {
  const std::string status = json_string(info, "status");
  return status == "Finished" || status == "Failed" || status == "Killed" ? status : "";
}

/// The task's status once it has ended ("Finished", "Failed", "Killed"), else "".
Result<std::string> ended_status(ApiClient& api, const std::string& id) {
  Result<Json> reply = api.get("/get_task", {{"task_ID", id}});
  if (!reply.is_ok()) return reply.status();
  return ended_status_of(reply->value("info", Json::object()));
}

/// The size of task `id`'s output now: where the output of a command sent next begins.
Result<int64_t> output_size(ApiClient& api, const std::string& id) {
  Result<Json> reply = api.get("/get_task_output", {{"task_ID", id}, {"max_bytes", "1"}});
  if (!reply.is_ok()) return reply.status();
  return json_int(*reply, "size", 0);
}

/// Prints analysis task `id`'s output from `offset` until the line that ends `script`; returns
/// the exit code: 0 when the script finished, 1 when it failed or the task ended first.
int wait_for_script(ApiClient& api, const std::string& id, const std::string& script,
                    int64_t offset) {
  const std::string finished = script_end_line(script, true);
  const std::string failed = script_end_line(script, false);
  std::string line;  // the incomplete last line printed so far
  for (;;) {
    Result<std::string> ended = ended_status(api, id);
    Result<Json> reply =
        ended.is_ok()
            ? api.get("/get_task_output", {{"task_ID", id}, {"offset", std::to_string(offset)}})
            : Result<Json>(ended.status());
    if (!reply.is_ok()) return fail(reply.status());
    const std::string text = json_string(*reply, "text");
    offset = json_int(*reply, "next_offset", offset);
    for (char c : text) {
      std::cout << c;
      if (c != '\n') {
        line += c;
        continue;
      }
      std::cout << std::flush;
      if (line == finished || line == failed) return line == finished ? 0 : 1;
      line.clear();
    }
    std::cout << std::flush;
    if (!ended->empty() && text.empty()) {
      std::cerr << "[dlnest] " << id << " " << *ended << " before " << script << " ended\n";
      return 1;
    }
    if (text.empty()) std::this_thread::sleep_for(kExpInterval);
  }
}

void add_exp(CLI::App& app, int& exit_code, const ClientOptions& client) {
  auto* cmd = app.add_subcommand(
      "exp", "Run an experiment script in an analysis task and print its output");
  auto id = std::make_shared<std::string>();
  auto script = std::make_shared<std::string>();
  auto no_wait = std::make_shared<bool>(false);
  cmd->add_option("ID", *id, "the analysis task")->required();
  cmd->add_option("SCRIPT", *script, "script name in its scripts folder, e.g. getAcc")->required();
  cmd->add_flag("--no-wait", *no_wait, "return once the task has the command");
  cmd->callback([=, &exit_code, &client] {
    ApiClient api(client);
    Result<int64_t> offset = *no_wait ? Result<int64_t>(0) : output_size(api, *id);
    Result<Json> reply = offset.is_ok()
                             ? api.post("/run_exp", {{"task_ID", *id}, {"command", *script}})
                             : Result<Json>(offset.status());
    if (!reply.is_ok()) {
      exit_code = fail(reply.status());
      return;
    }
    if (*no_wait) {
      std::cout << "sent " << *script << " to " << *id << "\n";
      return;
    }
    exit_code = wait_for_script(api, *id, *script, *offset);
  });
}

/// The line below the output of `dlnest output -f` at a terminal: the task's progress, redrawn
/// at every poll, cleared before more output is printed.
class StatusLine {
 public:
  StatusLine() : tty_(::isatty(STDOUT_FILENO) == 1) {}
  ~StatusLine() { clear(); }

  void show(const std::string& line) {
    if (!tty_ || line.empty()) return;
    std::cout << "\r\033[K" << line.substr(0, width() - 1) << std::flush;
    shown_ = true;
  }
  void clear() {
    if (!shown_) return;
    std::cout << "\r\033[K" << std::flush;
    shown_ = false;
  }

 private:
  static size_t width() {
    struct winsize size {};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0 || size.ws_col < 20) return 80;
    return size.ws_col;
  }

  bool tty_;
  bool shown_ = false;
};

int follow_output(ApiClient& api, const std::string& id, int64_t max_bytes) {
  char last = '\n';
  Result<int64_t> offset = print_output(api, id, std::nullopt, max_bytes, &last);
  StatusLine status;
  while (offset.is_ok()) {
    Result<Json> task = api.get("/get_task", {{"task_ID", id}});
    if (!task.is_ok()) return fail(task.status());
    const Json info = task->value("info", Json::object());
    const std::string ended = ended_status_of(info);
    status.clear();
    offset = print_output(api, id, *offset, 0, &last);
    if (offset.is_ok() && !ended.empty()) {
      std::cerr << "[dlnest] " << id << " " << ended << "\n";
      return ended == "Finished" ? 0 : 1;
    }
    // Below the output, never inside a line it has not ended.
    if (last == '\n') status.show(format_progress_line(info.value("progress", Json())));
    std::this_thread::sleep_for(kFollowInterval);
  }
  return fail(offset.status());
}

void add_output(CLI::App& app, int& exit_code, const ClientOptions& client) {
  auto* cmd = app.add_subcommand("output", "Print a task's output (stdout and stderr)");
  auto id = std::make_shared<std::string>();
  auto follow = std::make_shared<bool>(false);
  auto bytes = std::make_shared<int64_t>(0);
  cmd->add_option("ID", *id, "task id")->required();
  cmd->add_flag("-f,--follow", *follow,
                "keep printing new output until the task ends (exit code 0 if it finished)");
  cmd->add_option("--bytes", *bytes, "print the last N bytes (default: the server's 64 KiB)")
      ->check(CLI::PositiveNumber);
  cmd->callback([=, &exit_code, &client] {
    ApiClient api(client);
    if (*follow) {
      exit_code = follow_output(api, *id, *bytes);
      return;
    }
    Result<int64_t> offset = print_output(api, *id, std::nullopt, *bytes);
    if (!offset.is_ok()) exit_code = fail(offset.status());
  });
}

void add_shell(CLI::App& app, int& exit_code, const ClientOptions& client) {
  auto* cmd = app.add_subcommand(
      "shell", "An interactive shell on the server, with the original DLNest commands");
  cmd->callback([&exit_code, &client] {
    ApiClient api(client);
    exit_code = run_shell(api, ShellOptions::for_client(client));
  });
}

}  // namespace

void add_client_options(CLI::App& app, ClientOptions& client) {
  app.add_option("--server", client.server,
                 "the server as HOST:PORT, or https://HOST:PORT for one with TLS (default: "
                 "$DLNEST_SERVER, else 127.0.0.1:9999)");
  app.add_option("--tls-ca", client.tls_ca,
                 "PEM file of the authority (or self-signed certificate) of an https:// server "
                 "(default: $DLNEST_TLS_CA, else the system's)");
  app.add_option("--token", client.token,
                 "the server's token (default: $DLNEST_TOKEN, else <state dir>/token)");
  app.add_option("--state-dir", client.state_dir,
                 "state folder (default: $XDG_STATE_HOME/dlnest, else ~/.local/state/dlnest)");
  app.fallthrough();
}

Result<std::string> package_dir_of(const ClientOptions& client, const std::string& record) {
  const bool task_id = (record.rfind("T_", 0) == 0 || record.rfind("A_", 0) == 0) &&
                       record.find('/') == std::string::npos &&
                       !Env::default_env()->file_exists(record);
  if (!task_id) return path::absolute(record);
  ApiClient api(client);
  Result<Json> reply = api.get("/get_task", {{"task_ID", record}});
  if (!reply.is_ok()) return reply.status();
  const std::string package = json_string(reply->value("info", Json::object()), "package_dir");
  if (package.empty()) return Status::not_found("task " + record + " has no save package");
  return package;
}

int submit_task(const ClientOptions& client, const std::string& path, const ApiParams& params) {
  ApiClient api(client);
  Result<Json> reply = api.post(path, params);
  if (!reply.is_ok()) return fail(reply.status());
  std::cout << "task     " << json_string(*reply, "task_ID") << "\n";
  const std::string package = json_string(*reply, "record_path");
  if (!package.empty()) std::cout << "package  " << package << "\n";
  return 0;
}

void add_client_commands(CLI::App& app, int& exit_code, const ClientOptions& client) {
  add_analyze(app, exit_code, client);
  add_exp(app, exit_code, client);
  add_del(app, exit_code, client);
  add_tasks(app, exit_code, client);
  add_devices(app, exit_code, client);
  add_output(app, exit_code, client);
  add_shell(app, exit_code, client);
}

}  // namespace dlnest::cli
