#include "client/shell_commands.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <sstream>

#include "env/path.h"

namespace dlnest {

namespace {

/// What a flag takes.
enum class Value { kNone, kText, kPath, kInt, kIntList, kMemory };

struct FlagSpec {
  const char* flag;  ///< as typed: "-c"
  Value value;
  const char* param;  ///< the API parameter it sets
  const char* meta;   ///< the value's name in the usage
  const char* help;
  bool required = false;
};

struct CommandSpec {
  const char* name;
  const char* args;  ///< the usage after the name
  const char* summary;
  std::vector<FlagSpec> flags = {};  ///< empty for commands with positional arguments
  const char* endpoint = nullptr;    ///< for commands with flags: where they POST
  ShellAction action = ShellAction::kRequest;
};

const FlagSpec kMemory{"-m", Value::kMemory, "memory_consumption", "MB|auto",
                       "GPU memory the task needs, or auto: the last measured peak of the same "
                       "project and config x1.2 (default: 90% of a card)"};
const FlagSpec kMultiGpu{"-mc", Value::kNone, "multi_GPU", "",
                         "spread over several GPUs when one is not enough"};
const FlagSpec kDdp{"-DDP", Value::kNone, "DDP", "",
                    "distributed data parallel: one process per GPU, or -nproc on the CPU"};
const FlagSpec kNproc{"-nproc", Value::kInt, "nproc", "N",
                      "with -DDP -CPU: the number of processes"};
const FlagSpec kCpu{"-CPU", Value::kNone, "CPU", "", "run on the CPU"};
const FlagSpec kDescription{"-d", Value::kText, "description", "DESC", "description of the run"};
const FlagSpec kPlugins{"-p", Value::kText, "plugins", "NAMES",
                        "training plugins to list in its config: -p LogInit MailsNote"};
const FlagSpec kRecord{"-r", Value::kPath, "record_path", "PKG", "the save package", true};

const std::vector<CommandSpec>& command_specs() {
  static const std::vector<CommandSpec> kSpecs = {
      {"new",
       "-d DIR [-MNIST] [-p NAMES]",
       "create a project from a template",
       {{"-d", Value::kPath, "target_dir", "DIR", "folder of the new project", true},
        {"-MNIST", Value::kNone, "MNIST", "", "the Fashion-MNIST example, not the empty project"},
        kPlugins},
       "/new_proj"},
      {"addP",
       "-d DIR -p NAMES [-F]",
       "list training plugins in a project's config",
       {{"-d", Value::kPath, "target_dir", "DIR", "the project's folder", true},
        {kPlugins.flag, kPlugins.value, kPlugins.param, kPlugins.meta, kPlugins.help, true},
        {"-F", Value::kNone, "full", "", "write every option of a built-in, not only the main ones"}},
       "/add_plugins"},
      {"run",
       "-c CFG [-f FREQ] [-m MB|auto] [-d DESC] [-ns] [-mc] [-sd] [-DDP] [-nproc N] [-CPU]",
       "queue a training task",
       {{"-c", Value::kPath, "config_path", "CFG", "the project's root config", true},
        {"-f", Value::kPath, "freq_path", "FREQ", "a config merged last"},
        kMemory,
        kDescription,
        {"-ns", Value::kNone, "no_save", "", "save into the package folder NOSAVE"},
        kMultiGpu,
        {"-sd", Value::kNone, "use_description", "", "name the package folder by the description"},
        kDdp,
        kNproc,
        kCpu},
       "/run_train",
       ShellAction::kSubmit},
      {"continue",
       "-r PKG [-c ID] [-d DESC] [-m MB|auto] [-mc] [-DDP] [-nproc N] [-CPU]",
       "continue training a save package",
       {kRecord,
        {"-c", Value::kInt, "checkpoint_ID", "ID",
         "checkpoint to start from (default: the latest)"},
        kDescription,
        kMemory,
        kMultiGpu,
        kDdp,
        kNproc,
        kCpu},
       "/continue_train",
       ShellAction::kSubmit},
      {"analyze",
       "-r PKG [-c ID] [-s DIR] [-m MB|auto] [-CPU]",
       "start an analysis task on a package",
       {kRecord,
        {"-c", Value::kInt, "checkpoint_ID", "ID",
         "checkpoint to load (default: the latest; -2: none)"},
        {"-s", Value::kPath, "script_path", "DIR",
         "folder of the experiment scripts (default: the package's AnalyzeScripts/)"},
        kMemory,
        kCpu},
       "/analyze",
       ShellAction::kSubmit},
      {"runExp", "[ID] SCRIPT",
       "run experiment SCRIPT in analysis task ID (default: the watched one)"},
      {"watch", "ID", "print analysis task ID's new output after every command"},
      {"withdraw", "", "stop watching"},
      {"del", "ID", "delete a task (a running one is stopped)"},
      {"showTask", "", "the pending and running tasks"},
      {"showDevices", "", "the devices and their tasks"},
      {"showDL", "", "the server's new messages"},
      {"showAN", "[ID]", "analysis task ID's new output (default: the watched one)"},
      {"output", "ID", "task ID's new output (stdout and stderr)"},
      {"history", "[N]", "the last N ended tasks (default 100)"},
      {"changeDevices",
       "-d IDS",
       "the devices tasks may use",
       {{"-d", Value::kIntList, "new_devices_IDs", "IDS", "device ids: -d 0 1 (-1 is the CPU)",
         true}},
       "/change_devices"},
      {"changeDelay", "N", "run the scheduler every N seconds"},
      {"changeMax", "N", "allow at most N tasks per device"},
      {"clear", "", "clear the server's messages"},
      {"help", "[COMMAND]", "every command, or one command's flags"},
      {"exit", "", "leave the shell (tasks keep running)"},
  };
  return kSpecs;
}

/// Other names the original clients used.
const std::map<std::string, std::string>& aliases() {
  static const std::map<std::string, std::string> kAliases = {{"showDevice", "showDevices"},
                                                              {"quit", "exit"}};
  return kAliases;
}

bool equals_ignore_case(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

const CommandSpec* find_command(const std::string& name) {
  const auto alias = aliases().find(name);
  const std::string& canonical = alias != aliases().end() ? alias->second : name;
  for (const CommandSpec& spec : command_specs()) {
    if (canonical == spec.name) return &spec;
  }
  return nullptr;
}

/// Exact first; then ignoring case, as typed flags like -cpu or -ddp mean the obvious.
const FlagSpec* find_flag(const CommandSpec& spec, const std::string& text) {
  for (const FlagSpec& flag : spec.flags) {
    if (text == flag.flag) return &flag;
  }
  for (const FlagSpec& flag : spec.flags) {
    if (equals_ignore_case(text, flag.flag)) return &flag;
  }
  return nullptr;
}

Status unknown_command(const std::string& name) {
  for (const CommandSpec& spec : command_specs()) {
    if (equals_ignore_case(name, spec.name)) {
      return Status::invalid_argument("unknown command '" + name + "' (did you mean " + spec.name +
                                      "?)");
    }
  }
  return Status::invalid_argument("unknown command '" + name +
                                  "' (type help for the list of commands)");
}

std::optional<int64_t> parse_int(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (*end != '\0' || errno != 0 || text[0] == ' ' || text[0] == '+') return std::nullopt;
  return value;
}

bool looks_like_flag(const ShellWord& word) {
  return !word.quoted && word.text.size() > 1 && word.text[0] == '-' && !parse_int(word.text);
}

std::string usage(const CommandSpec& spec) {
  return std::string(spec.name) + (spec.args[0] != '\0' ? " " : "") + spec.args;
}

Status usage_error(const CommandSpec& spec, const std::string& problem) {
  return Status::invalid_argument(std::string(spec.name) + ": " + problem +
                                  "\nusage: " + usage(spec));
}

std::string absolute_path(const std::string& p, const ShellContext& context) {
  std::string expanded = p;
  if (!context.home.empty() && (p == "~" || starts_with(p, "~/"))) {
    expanded = context.home + p.substr(1);
  }
  return path::normalize(path::join(context.cwd, expanded));
}

ShellCommand request(ShellAction action, HttpMethod method, const std::string& path,
                     ApiParams params = {}) {
  ShellCommand command;
  command.action = action;
  command.request = ApiRequest{method, path, std::move(params)};
  return command;
}

/// A command the shell handles without the server.
ShellCommand local_action(ShellAction action) {
  ShellCommand command;
  command.action = action;
  return command;
}

/// The values given to each flag of a flag command, in the order the user typed them.
using FlagValues = std::map<const FlagSpec*, std::vector<std::string>>;

/// Reads the value words of `flag` starting at words[i]; advances i past them.
Status read_flag_value(const CommandSpec& spec, const FlagSpec& flag,
                       const std::vector<ShellWord>& words, size_t& i,
                       std::vector<std::string>& out) {
  const auto missing = [&] {
    return usage_error(spec, std::string(flag.flag) + " needs a value (" + flag.meta + ")");
  };
  switch (flag.value) {
    case Value::kNone:
      return Status::ok();
    case Value::kInt: {
      if (i >= words.size() || looks_like_flag(words[i])) return missing();
      if (!parse_int(words[i].text)) {
        return usage_error(spec, std::string(flag.flag) + " needs a whole number (" + flag.meta +
                                     "), got '" + words[i].text + "'");
      }
      out.push_back(std::to_string(*parse_int(words[i++].text)));
      return Status::ok();
    }
    case Value::kMemory:
      if (i >= words.size() || looks_like_flag(words[i])) return missing();
      if (words[i].text != "auto" && !parse_int(words[i].text)) {
        return usage_error(spec, std::string(flag.flag) +
                                     " needs a whole number of MB or auto, got '" + words[i].text +
                                     "'");
      }
      out.push_back(words[i].text == "auto" ? words[i].text
                                            : std::to_string(*parse_int(words[i].text)));
      ++i;
      return Status::ok();
    case Value::kIntList:
      for (; i < words.size() && !looks_like_flag(words[i]); ++i) {
        std::stringstream items(words[i].text);
        for (std::string item; std::getline(items, item, ',');) {
          if (item.empty()) continue;
          if (!parse_int(item)) {
            return usage_error(spec, std::string(flag.flag) + " takes whole numbers (" + flag.meta +
                                         "), got '" + item + "'");
          }
          out.push_back(std::to_string(*parse_int(item)));
        }
      }
      return out.empty() ? missing() : Status::ok();
    case Value::kText:
    case Value::kPath: {
      // The original shell joined the words up to the next flag: `-d my first run`.
      std::string joined;
      bool any = false;
      for (; i < words.size() && !looks_like_flag(words[i]); ++i) {
        joined += (any ? " " : "") + words[i].text;
        any = true;
      }
      if (!any) return missing();
      out.push_back(joined);
      return Status::ok();
    }
  }
  return Status::ok();
}

Result<FlagValues> read_flags(const CommandSpec& spec, const std::vector<ShellWord>& words) {
  FlagValues values;
  size_t i = 1;
  while (i < words.size()) {
    const ShellWord& word = words[i++];
    if (!looks_like_flag(word)) return usage_error(spec, "unexpected argument '" + word.text + "'");
    const FlagSpec* flag = find_flag(spec, word.text);
    if (flag == nullptr) return usage_error(spec, "unknown option " + word.text);
    if (values.count(flag) != 0) return usage_error(spec, std::string(flag->flag) + " given twice");
    DLNEST_RETURN_IF_ERROR(read_flag_value(spec, *flag, words, i, values[flag]));
  }
  for (const FlagSpec& flag : spec.flags) {
    if (flag.required && values.count(&flag) == 0) {
      return usage_error(spec, std::string("missing ") + flag.flag + " " + flag.meta);
    }
  }
  return values;
}

Result<ShellCommand> parse_flag_command(const CommandSpec& spec,
                                        const std::vector<ShellWord>& words,
                                        const ShellContext& context) {
  Result<FlagValues> values = read_flags(spec, words);
  if (!values.is_ok()) return values.status();
  ApiParams params;
  for (const FlagSpec& flag : spec.flags) {  // the spec's order, whatever the user's
    const auto it = values->find(&flag);
    if (it == values->end()) continue;
    if (flag.value == Value::kNone) params.emplace_back(flag.param, "True");
    for (const std::string& value : it->second) {
      params.emplace_back(flag.param,
                          flag.value == Value::kPath ? absolute_path(value, context) : value);
    }
  }
  ShellCommand command = request(spec.action, HttpMethod::kPost, spec.endpoint, params);
  if (spec.name == std::string("new")) {
    const bool mnist = std::any_of(params.begin(), params.end(),
                                   [](const auto& param) { return param.first == "MNIST"; });
    command.done =
        std::string("created ") + (mnist ? "MNIST " : "") + "project " + params.front().second;
  } else if (spec.name == std::string("addP")) {
    command.done = "listed plugins in the config of " + params.front().second;
  } else if (spec.name == std::string("changeDevices")) {
    std::string ids;
    for (const auto& param : params) ids += (ids.empty() ? "" : " ") + param.second;
    command.done = "tasks may use devices " + ids;
  }
  return command;
}

/// The positional words after the command name, or a usage error when there are fewer than
/// `min` or more than `max` of them.
Result<std::vector<std::string>> positional(const CommandSpec& spec,
                                            const std::vector<ShellWord>& words, size_t min,
                                            size_t max, const char* missing_what) {
  std::vector<std::string> args;
  for (size_t i = 1; i < words.size(); ++i) {
    if (looks_like_flag(words[i])) return usage_error(spec, "unknown option " + words[i].text);
    if (args.size() == max) return usage_error(spec, "unexpected argument '" + words[i].text + "'");
    args.push_back(words[i].text);
  }
  if (args.size() < min) return usage_error(spec, std::string("missing ") + missing_what);
  return args;
}

Result<int64_t> positive_number(const CommandSpec& spec, const std::string& text) {
  const std::optional<int64_t> n = parse_int(text);
  if (!n || *n <= 0)
    return usage_error(spec, "N must be a whole number above 0, got '" + text + "'");
  return *n;
}

ShellCommand output_command(const std::string& path, const std::string& task_id,
                            const std::string& key, const ShellContext& context) {
  ApiParams params;
  if (!task_id.empty()) params.emplace_back("task_ID", task_id);
  const auto offset = context.offsets.find(key);
  if (offset != context.offsets.end())
    params.emplace_back("offset", std::to_string(offset->second));
  ShellCommand command = request(ShellAction::kShowOutput, HttpMethod::kGet, path, params);
  command.output_key = key;
  return command;
}

ShellCommand show_analyze(const std::string& task_id, const ShellContext& context) {
  return output_command("/get_analyze_output", task_id, "analyze:" + task_id, context);
}

using Args = std::vector<std::string>;
/// Builds the command from its checked positional arguments.
using Builder =
    std::function<Result<ShellCommand>(const CommandSpec&, const Args&, const ShellContext&)>;

struct Positional {
  size_t min;
  size_t max;
  const char* missing_what;
  Builder build;
};

Result<ShellCommand> build_run_exp(const CommandSpec& spec, const Args& args,
                                   const ShellContext& context) {
  std::string task = args.size() == 2 ? args[0] : context.watched_task;
  if (task.empty()) {
    return usage_error(spec, "no task ID given and no task watched (watch ID first, or name it)");
  }
  ShellCommand command = request(ShellAction::kRequest, HttpMethod::kPost, "/run_exp",
                                 {{"task_ID", task}, {"command", args.back()}});
  command.done = "sent " + args.back() + " to " + task;
  if (task != context.watched_task) command.done += " (watch " + task + " to see its output)";
  return command;
}

Result<ShellCommand> build_show_an(const CommandSpec& spec, const Args& args,
                                   const ShellContext& context) {
  const std::string task = args.empty() ? context.watched_task : args[0];
  if (task.empty()) return usage_error(spec, "no task ID given and no task watched");
  return show_analyze(task, context);
}

/// A POST of one positive number; `done` says what it did, with N standing for the number.
Result<ShellCommand> build_number(const CommandSpec& spec, const Args& args, const char* path,
                                  const char* param, std::string done) {
  Result<int64_t> n = positive_number(spec, args[0]);
  if (!n.is_ok()) return n.status();
  ShellCommand command =
      request(ShellAction::kRequest, HttpMethod::kPost, path, {{param, std::to_string(*n)}});
  command.done = done.replace(done.find('N'), 1, std::to_string(*n));
  return command;
}

const std::map<std::string, Positional>& positional_commands() {
  using C = const CommandSpec&;
  using X = const ShellContext&;
  static const std::map<std::string, Positional> kCommands = {
      {"runExp", {1, 2, "SCRIPT", build_run_exp}},
      {"watch",
       {1, 1, "the task ID",
        [](C, const Args& a, X) -> Result<ShellCommand> {
          ShellCommand c =
              request(ShellAction::kWatch, HttpMethod::kGet, "/get_task", {{"task_ID", a[0]}});
          c.task_id = a[0];
          return c;
        }}},
      {"withdraw",
       {0, 0, "",
        [](C, const Args&, X) -> Result<ShellCommand> {
          return local_action(ShellAction::kWithdraw);
        }}},
      {"del",
       {1, 1, "the task ID",
        [](C, const Args& a, X) -> Result<ShellCommand> {
          ShellCommand c =
              request(ShellAction::kRequest, HttpMethod::kPost, "/del_task", {{"task_ID", a[0]}});
          c.done = "deleted " + a[0];
          return c;
        }}},
      {"showTask",
       {0, 0, "",
        [](C, const Args&, X) -> Result<ShellCommand> {
          return request(ShellAction::kShowTasks, HttpMethod::kGet, "/get_task_info");
        }}},
      {"showDevices",
       {0, 0, "",
        [](C, const Args&, X) -> Result<ShellCommand> {
          return request(ShellAction::kShowDevices, HttpMethod::kGet, "/get_devices_info");
        }}},
      {"showDL",
       {0, 0, "",
        [](C, const Args&, X x) -> Result<ShellCommand> {
          return output_command("/get_DLNest_output", "", "DLNest", x);
        }}},
      {"showAN", {0, 1, "", build_show_an}},
      {"output",
       {1, 1, "the task ID",
        [](C, const Args& a, X x) -> Result<ShellCommand> {
          return output_command("/get_task_output", a[0], "task:" + a[0], x);
        }}},
      {"history",
       {0, 1, "",
        [](C s, const Args& a, X) -> Result<ShellCommand> {
          ApiParams params;
          if (!a.empty()) {
            Result<int64_t> n = positive_number(s, a[0]);
            if (!n.is_ok()) return n.status();
            params.emplace_back("limit", std::to_string(*n));
          }
          return request(ShellAction::kShowTasks, HttpMethod::kGet, "/get_task_history", params);
        }}},
      {"changeDelay",
       {1, 1, "N",
        [](C s, const Args& a, X) {
          return build_number(s, a, "/change_delay", "new_delay",
                              "the scheduler now runs every N s");
        }}},
      {"changeMax",
       {1, 1, "N",
        [](C s, const Args& a, X) {
          return build_number(s, a, "/change_max_task_per_device", "new_max",
                              "at most N tasks per device");
        }}},
      {"clear",
       {0, 0, "",
        [](C, const Args&, X) -> Result<ShellCommand> {
          ShellCommand c = request(ShellAction::kRequest, HttpMethod::kPost, "/clear");
          c.done = "cleared the server's messages";
          return c;
        }}},
      {"help",
       {0, 1, "",
        [](C, const Args& a, X) -> Result<ShellCommand> {
          ShellCommand c = local_action(ShellAction::kHelp);
          if (!a.empty()) {
            if (find_command(a[0]) == nullptr) return unknown_command(a[0]);
            c.topic = find_command(a[0])->name;
          }
          return c;
        }}},
      {"exit",
       {0, 0, "",
        [](C, const Args&, X) -> Result<ShellCommand> {
          return local_action(ShellAction::kExit);
        }}},
  };
  return kCommands;
}

std::vector<std::string> with_prefix(const std::vector<std::string>& words,
                                     const std::string& prefix) {
  std::vector<std::string> out;
  for (const std::string& w : words) {
    if (starts_with(w, prefix)) out.push_back(w);
  }
  return out;
}

std::vector<std::string> command_names() {
  std::vector<std::string> names;
  for (const CommandSpec& spec : command_specs()) names.push_back(spec.name);
  return names;
}

std::string flag_help(const CommandSpec& spec) {
  std::ostringstream out;
  out << "usage: " << usage(spec) << "\n" << spec.summary << "\n";
  for (const FlagSpec& flag : spec.flags) {
    std::string head = std::string("  ") + flag.flag + (flag.meta[0] ? " " : "") + flag.meta;
    head.resize(std::max<size_t>(head.size() + 2, 12), ' ');
    out << head << flag.help << (flag.required ? " (required)" : "") << "\n";
  }
  return out.str();
}

}  // namespace

Result<std::vector<ShellWord>> split_shell_words(const std::string& line) {
  std::vector<ShellWord> words;
  ShellWord word;
  bool in_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) words.push_back(word);
      word = ShellWord();
      in_word = false;
    } else if (c == '\'' || c == '"') {
      in_word = true;
      word.quoted = true;
      for (++i; i < line.size() && line[i] != c; ++i) {
        if (c == '"' && line[i] == '\\' && i + 1 < line.size() &&
            (line[i + 1] == '"' || line[i + 1] == '\\')) {
          ++i;
        }
        word.text += line[i];
      }
      if (i >= line.size()) {
        return Status::invalid_argument(std::string("unterminated ") + c + " quote in: " + line);
      }
    } else if (c == '\\' && i + 1 < line.size()) {
      word.text += line[++i];
      in_word = true;
    } else {
      word.text += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(word);
  return words;
}

Result<ShellCommand> parse_shell_command(const std::string& line, const ShellContext& context) {
  Result<std::vector<ShellWord>> words = split_shell_words(line);
  if (!words.is_ok()) return words.status();
  if (words->empty() || starts_with(words->front().text, "#")) return ShellCommand();
  const CommandSpec* spec = find_command(words->front().text);
  if (spec == nullptr) return unknown_command(words->front().text);
  if (spec->endpoint != nullptr) return parse_flag_command(*spec, *words, context);
  const Positional& p = positional_commands().at(spec->name);
  Result<Args> args = positional(*spec, *words, p.min, p.max, p.missing_what);
  if (!args.is_ok()) return args.status();
  return p.build(*spec, *args, context);
}

Status apply_reply(const ShellCommand& command, const Json& reply, ShellContext& context) {
  switch (command.action) {
    case ShellAction::kWatch: {
      const std::string type =
          json_string(reply.is_object() ? reply.value("info", Json::object()) : Json(), "type");
      if (!type.empty() && type != "Analyze") {
        return Status::invalid_argument(command.task_id + " is a " + type +
                                        " task; watch follows an analysis task (see `output " +
                                        command.task_id + "` for this one)");
      }
      context.watched_task = command.task_id;
      return Status::ok();
    }
    case ShellAction::kWithdraw:
      context.watched_task.clear();
      return Status::ok();
    case ShellAction::kShowOutput:
      if (json_int(reply, "next_offset", -1) >= 0) {
        context.offsets[command.output_key] = json_int(reply, "next_offset", -1);
      }
      return Status::ok();
    default:
      return Status::ok();
  }
}

std::optional<ShellCommand> watch_poll_command(const ShellContext& context) {
  if (context.watched_task.empty()) return std::nullopt;
  return show_analyze(context.watched_task, context);
}

Result<std::string> shell_help(const std::string& topic) {
  if (!topic.empty()) {
    const CommandSpec* spec = find_command(topic);
    if (spec == nullptr) return unknown_command(topic);
    return flag_help(*spec);
  }
  constexpr size_t kUsageWidth = 24;  // longer usages put their summary on the next line
  std::ostringstream out;
  for (const CommandSpec& spec : command_specs()) {
    std::string head = usage(spec);
    if (head.size() > kUsageWidth) {
      out << "  " << head << "\n" << std::string(kUsageWidth + 4, ' ') << spec.summary << "\n";
    } else {
      head.resize(kUsageWidth + 2, ' ');
      out << "  " << head << spec.summary << "\n";
    }
  }
  out << "Relative paths are taken from the shell's folder. Quote values with spaces: "
         "-d \"my run\".\nhelp COMMAND shows a command's flags.\n";
  return out.str();
}

Completion complete_shell_word(const std::string& line, size_t start) {
  const std::string before = line.substr(0, std::min(start, line.size()));
  const std::string prefix = line.substr(std::min(start, line.size()));
  std::vector<std::string> words;
  std::istringstream in(before);
  for (std::string w; in >> w;) words.push_back(w);
  Completion completion;
  completion.kind = Completion::Kind::kWords;
  if (words.empty() || (words.size() == 1 && words[0] == "help")) {
    completion.words = with_prefix(command_names(), prefix);
    return completion;
  }
  const CommandSpec* spec = find_command(words[0]);
  if (spec == nullptr || spec->flags.empty()) return Completion();
  const FlagSpec* previous = find_flag(*spec, words.back());
  if (previous != nullptr && previous->value == Value::kPath) {
    completion.kind = Completion::Kind::kPath;
    return completion;
  }
  if (previous != nullptr && previous->value != Value::kNone && prefix.empty()) return Completion();
  if (!prefix.empty() && prefix[0] != '-') return Completion();
  std::vector<std::string> flags;
  for (const FlagSpec& flag : spec->flags) flags.push_back(flag.flag);
  completion.words = with_prefix(flags, prefix);
  return completion;
}

}  // namespace dlnest
