// server_bench: the server's latencies (docs/benchmarks.md, "Server latency"). (a) From a client's
// submit to the task's worker running, with a free device, measured against the exec of the same
// worker from this process; (b) the read endpoints under a fixed request rate from this process,
// with `dlnest server` running in another one and 1,000 tasks in its history, and /get_task_info
// again while slow clients hold connections open.
#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dlnest/config.h"
#include "dlnest/env.h"
#include "dlnest/save_package.h"
#include "dlnest/status.h"
#include "env/path.h"
#include "project/project_builder.h"
#include "state/state_store.h"

extern char** environ;

namespace {

using dlnest::Env;
using dlnest::Json;
using dlnest::Result;
using dlnest::Status;
using Steady = std::chrono::steady_clock;

constexpr double kServerStartTimeoutS = 30;
// Long enough for the setup task, whose first stage builds a fresh project (2+ min on a busy
// 2-core machine).
constexpr double kTaskStateTimeoutS = 600;
constexpr double kPollIntervalS = 0.005;
constexpr int kSimulatedGpuMb = 24000;
constexpr int kGpuTaskMb = 1000;
constexpr int kHistoryGpuMb = 1000;
constexpr int kPendingTaskMb = 5000;
constexpr double kSlowByteIntervalS = 1;
constexpr double kSlowClientsSettleS = 0.3;
constexpr const char* kUsage =
    "usage: server_bench [options]\n"
    "  --rounds N        measure everything N times, one round after the other (default 2)\n"
    "  --cycles N        submit/delete cycles per variant and round in (a) (default 50)\n"
    "  --run-trains N    /run_train submissions per round in (a) (default 10)\n"
    "  --builds N        /run_train submissions of a changed project per round in (a), each\n"
    "                    deleted while it builds (default 10)\n"
    "  --history N       ended tasks in the history for (b) (default 1000)\n"
    "  --pending N       pending tasks that never start, for (b) (default 5)\n"
    "  --rate R          requests per second in (b) (default 200)\n"
    "  --history-rate R  requests per second to /get_task_history in (b) (default 10)\n"
    "  --seconds S       seconds of load per endpoint in (b) (default 10)\n"
    "  --connections C   client connections in (b) (default 4)\n"
    "  --slow-clients N  connections that send a request one byte a second, while\n"
    "                    /get_task_info is measured once more at the end of (b) (default 8)\n"
    "  --part P          a, b or both (default both)\n"
    "  --nodelay 0|1     1: the client sets TCP_NODELAY (default); 0: it does not, as\n"
    "                    cpp-httplib's default\n"
    "  --bin-dir DIR     folder with dlnest and dlnest-worker (default: this program's folder)\n"
    "  --dir DIR         folder to work in (default $TMPDIR or /tmp); a temporary subfolder is\n"
    "                    created there and removed at the end\n";

struct Options {
  int rounds = 2;
  int cycles = 50;
  int run_trains = 10;
  int builds = 10;
  int history = 1000;
  int pending = 5;
  int rate = 200;
  int history_rate = 10;
  int seconds = 10;
  int connections = 4;
  int slow_clients = 8;
  std::string part = "both";
  bool nodelay = true;
  std::string bin_dir;
  std::string dir;
};

double wall_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

double seconds_since(Steady::time_point start) {
  return std::chrono::duration<double>(Steady::now() - start).count();
}

void sleep_s(double seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

std::string own_dir() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? dlnest::path::parent(std::string(buf, static_cast<size_t>(n))) : ".";
}

Result<int> parse_positive(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || value <= 0 || value > INT_MAX) {
    return Status::invalid_argument(flag + " expects a positive integer, got '" + text + "'");
  }
  return static_cast<int>(value);
}

Result<Options> parse_options(int argc, char** argv) {
  Options o;
  const char* tmpdir = std::getenv("TMPDIR");
  o.dir = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
  o.bin_dir = own_dir();
  const std::vector<std::pair<std::string, int*>> numbers = {{"--rounds", &o.rounds},
                                                             {"--cycles", &o.cycles},
                                                             {"--run-trains", &o.run_trains},
                                                             {"--builds", &o.builds},
                                                             {"--history", &o.history},
                                                             {"--pending", &o.pending},
                                                             {"--rate", &o.rate},
                                                             {"--history-rate", &o.history_rate},
                                                             {"--seconds", &o.seconds},
                                                             {"--connections", &o.connections},
                                                             {"--slow-clients", &o.slow_clients}};
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Status::invalid_argument("missing value after " + flag);
    const std::string value = argv[i + 1];
    if (flag == "--dir" || flag == "--bin-dir") {
      (flag == "--dir" ? o.dir : o.bin_dir) = value;
      continue;
    }
    if (flag == "--part" && (value == "a" || value == "b" || value == "both")) {
      o.part = value;
      continue;
    }
    if (flag == "--nodelay" && (value == "0" || value == "1")) {
      o.nodelay = value == "1";
      continue;
    }
    auto it = std::find_if(numbers.begin(), numbers.end(),
                           [&flag](const auto& n) { return n.first == flag; });
    if (it == numbers.end()) return Status::invalid_argument("unknown option " + flag);
    DLNEST_ASSIGN_OR_RETURN(*it->second, parse_positive(flag, value));
  }
  return o;
}

// ---- statistics ----

/// The nearest-rank percentile `p` (0-100) of `values`, which must not be empty.
double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(p / 100 * static_cast<double>(values.size()));
  const size_t index = static_cast<size_t>(std::max(rank, 1.0)) - 1;
  return values[std::min(index, values.size() - 1)];
}

/// One timed quantity: its name and its samples in milliseconds.
struct Series {
  std::string name;
  std::vector<double> ms;
};

void print_series_header() {
  std::printf("  %-46s %5s %9s %9s %9s %9s\n", "", "n", "p50 ms", "p90 ms", "p99 ms", "max ms");
}

void print_series(const Series& s) {
  if (s.ms.empty()) return;
  std::printf("  %-46s %5zu %9.2f %9.2f %9.2f %9.2f\n", s.name.c_str(), s.ms.size(),
              percentile(s.ms, 50), percentile(s.ms, 90), percentile(s.ms, 99),
              percentile(s.ms, 100));
}

// ---- the server process and its API ----

/// A `dlnest server` child process with its output in a log file; stopped with SIGTERM (the
/// server's own shutdown) when this goes out of scope. A server stopped that way leaves its
/// running tasks alive, so a caller that may leave tasks behind (an error half-way through a
/// cycle) sets end_tasks_on_stop and they are deleted first.
class ServerProcess {
 public:
  static Result<std::unique_ptr<ServerProcess>> start(const std::string& dlnest,
                                                      const std::string& state_dir,
                                                      const std::vector<std::string>& extra,
                                                      const std::string& log);
  ~ServerProcess();
  int port() const { return port_; }
  void set_end_tasks_on_stop() { end_tasks_on_stop_ = true; }

 private:
  ServerProcess(pid_t pid, int port) : pid_(pid), port_(port) {}
  void end_tasks() const;

  pid_t pid_;
  int port_;
  bool end_tasks_on_stop_ = false;
};

/// Starts `argv` with stdin from /dev/null and stdout and stderr into `log` (truncated).
Result<pid_t> spawn_logged(const std::vector<std::string>& argv, const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Status::io_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

Result<std::unique_ptr<ServerProcess>> ServerProcess::start(const std::string& dlnest,
                                                            const std::string& state_dir,
                                                            const std::vector<std::string>& extra,
                                                            const std::string& log) {
  std::vector<std::string> argv = {dlnest, "--state-dir", state_dir, "server", "--port", "0"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  DLNEST_ASSIGN_OR_RETURN(pid_t pid, spawn_logged(argv, log));
  std::unique_ptr<ServerProcess> server(new ServerProcess(pid, 0));
  const std::string marker = "listening on http://127.0.0.1:";
  const auto start = Steady::now();
  while (seconds_since(start) < kServerStartTimeoutS) {
    auto text = Env::default_env()->read_file(log);
    const size_t at = text.is_ok() ? text->find(marker) : std::string::npos;
    if (at != std::string::npos) {
      server->port_ = std::atoi(text->c_str() + at + marker.size());
      return server;
    }
    if (::waitpid(pid, nullptr, WNOHANG) == pid) {
      server->pid_ = -1;  // already reaped
      return Status::io_error("dlnest server exited at start:\n" + (text.is_ok() ? *text : ""));
    }
    sleep_s(0.01);
  }
  return Status::io_error("dlnest server did not listen within 30 s; see " + log);
}

/// Requests to the server's API; replies that are not {"status":"success"} become errors.
class Api {
 public:
  Api(int port, bool nodelay) : http_("127.0.0.1", port) {
    http_.set_keep_alive(true);
    http_.set_tcp_nodelay(nodelay);
    http_.set_read_timeout(300, 0);
  }

  Result<Json> get(const std::string& path, const httplib::Params& params = {}) {
    return reply(path, http_.Get(path.c_str(), params, httplib::Headers{}));
  }
  Result<Json> post(const std::string& path, const httplib::Params& params) {
    return reply(path, http_.Post(path.c_str(), params));
  }

  /// Task `id`'s info once its status is `state`; an error when it ends otherwise.
  Result<Json> wait_state(const std::string& id, const std::string& state) {
    const auto start = Steady::now();
    while (seconds_since(start) < kTaskStateTimeoutS) {
      DLNEST_ASSIGN_OR_RETURN(Json reply, get("/get_task", {{"task_ID", id}}));
      const Json& info = reply["info"];
      const std::string now = info.value("status", "");
      if (now == state) return info;
      if (now != "Pending" && now != "Building" && now != "Running") {
        return Status::failed_precondition(id + " ended as " + now + " while waiting for " + state +
                                           ": " + info.value("error", ""));
      }
      sleep_s(kPollIntervalS);
    }
    return Status::failed_precondition(id + " did not become " + state + " in time");
  }

  /// Deletes task `id` and waits until it is Killed.
  Status delete_task(const std::string& id) {
    DLNEST_RETURN_IF_ERROR(post("/del_task", {{"task_ID", id}}).status());
    return wait_state(id, "Killed").status();
  }

 private:
  static Result<Json> reply(const std::string& path, const httplib::Result& res) {
    if (!res) return Status::io_error(path + ": " + httplib::to_string(res.error()));
    Json body = Json::parse(res->body, nullptr, false);
    if (body.is_discarded() || body.value("status", "") != "success") {
      return Status::io_error(path + ": HTTP " + std::to_string(res->status) + " " + res->body);
    }
    return body;
  }

  httplib::Client http_;
};

void ServerProcess::end_tasks() const {
  Api api(port_, true);
  auto active = api.get("/get_task_info");
  if (!active.is_ok()) return;
  for (const Json& task : (*active)["info"]) {
    const std::string id = task.value("ID", "");
    const Status s = api.delete_task(id);
    if (!s.is_ok()) std::fprintf(stderr, "server_bench: %s\n", s.to_string().c_str());
  }
}

ServerProcess::~ServerProcess() {
  if (pid_ <= 0) return;
  if (end_tasks_on_stop_ && port_ > 0) end_tasks();
  ::kill(pid_, SIGTERM);
  const auto start = Steady::now();
  while (::waitpid(pid_, nullptr, WNOHANG) == 0) {
    if (seconds_since(start) > 30) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      return;
    }
    sleep_s(0.01);
  }
}

// ---- (a) submit to worker start ----

/// The files of the benchmark: a project from the empty template, its long-running freq config,
/// and a save package of it that holds a checkpoint.
struct Workspace {
  std::string root;
  std::string dlnest;
  std::string worker;
  std::string config;
  std::string freq;
  std::string edited_config;  ///< a second project, changed before each submit: it needs a build
  std::string edited_source;  ///< the file of it that is changed
  std::string package;
  Json args;
  int log_count = 0;

  std::string next_log(const std::string& what) {
    return dlnest::path::join(root, what + "-" + std::to_string(++log_count) + ".log");
  }
};

/// One submission: the client's times from its t0 (wall clock, before the request) to the reply,
/// and the server's submit_time and start_time (wall clock) relative to the same t0.
struct StartSample {
  double reply_ms = 0;
  double submit_ms = 0;
  double start_ms = 0;
};

/// Submits with `path` and `params`, waits until the task runs, then deletes it and waits until
/// it is Killed.
Result<StartSample> submit_and_start(Api& api, const std::string& path,
                                     const httplib::Params& params) {
  const double t0 = wall_now();
  DLNEST_ASSIGN_OR_RETURN(Json reply, api.post(path, params));
  StartSample sample;
  sample.reply_ms = (wall_now() - t0) * 1000;
  const std::string id = reply.value("task_ID", "");
  DLNEST_ASSIGN_OR_RETURN(Json info, api.wait_state(id, "Running"));
  sample.submit_ms = (info["submit_time"].get<double>() - t0) * 1000;
  sample.start_ms = (info["start_time"].get<double>() - t0) * 1000;
  DLNEST_RETURN_IF_ERROR(api.delete_task(id));
  return sample;
}

/// One /run_train of a project whose source changed since its last build, so that its build stage
/// compiles (tens of seconds to minutes): the reply must not wait for it. Returns the reply's
/// latency; the task is deleted once it builds.
Result<double> submit_needing_build(Api& api, const Workspace& ws, int n) {
  {
    std::ofstream source(ws.edited_source, std::ios::app);
    source << "// edit " << n << "\n";
    if (!source) return Status::io_error("cannot change " + ws.edited_source);
  }
  const double t0 = wall_now();
  DLNEST_ASSIGN_OR_RETURN(
      Json reply, api.post("/run_train", {{"config_path", ws.edited_config},
                                          {"freq_path", ws.freq},
                                          {"CPU", "True"}}));
  const double reply_ms = (wall_now() - t0) * 1000;
  const std::string id = reply.value("task_ID", "");
  DLNEST_RETURN_IF_ERROR(api.wait_state(id, "Building").status());
  DLNEST_RETURN_IF_ERROR(api.delete_task(id));
  return reply_ms;
}

/// The baseline: posix_spawn of the same worker binary from this process, which returns once the
/// exec has succeeded (glibc's posix_spawn waits for it). The child is killed at once.
Result<double> spawn_worker_ms(const std::string& worker) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  char* args[] = {const_cast<char*>(worker.c_str()), const_cast<char*>("--help"), nullptr};
  pid_t pid = 0;
  const auto start = Steady::now();
  const int rc = posix_spawn(&pid, worker.c_str(), &actions, nullptr, args, environ);
  const double ms = seconds_since(start) * 1000;
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Status::io_error("cannot start " + worker + ": " + std::strerror(rc));
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return ms;
}

/// The series of one variant of (a): client reply, server submit, start - submit, start.
struct StartVariant {
  std::string name;
  std::string path;
  httplib::Params params;
  std::vector<StartSample> samples;

  Status run(Api& api) {
    DLNEST_ASSIGN_OR_RETURN(StartSample s, submit_and_start(api, path, params));
    samples.push_back(s);
    return Status::ok();
  }
};

void print_start_variant(const StartVariant& v) {
  Series reply{"reply to the POST (client)", {}};
  Series submit{"submit_time - t0", {}};
  Series queued{"start_time - submit_time (server)", {}};
  Series start{"start_time - t0: submit to worker start", {}};
  for (const StartSample& s : v.samples) {
    reply.ms.push_back(s.reply_ms);
    submit.ms.push_back(s.submit_ms);
    queued.ms.push_back(s.start_ms - s.submit_ms);
    start.ms.push_back(s.start_ms);
  }
  std::printf("%s\n", v.name.c_str());
  for (const Series* s : {&reply, &submit, &queued, &start}) print_series(*s);
}

std::vector<StartVariant> start_variants(const Workspace& ws) {
  std::vector<StartVariant> variants;
  variants.push_back({"/continue_train, CPU=True",
                      "/continue_train",
                      {{"record_path", ws.package}, {"CPU", "True"}},
                      {}});
  variants.push_back({"/continue_train, simulated GPU sim:24000, memory 1000 MB",
                      "/continue_train",
                      {{"record_path", ws.package},
                       {"CPU", "False"},
                       {"memory_consumption", std::to_string(kGpuTaskMb)}},
                      {}});
  variants.push_back({"/run_train, CPU=True (no-op project build + new package)",
                      "/run_train",
                      {{"config_path", ws.config}, {"freq_path", ws.freq}, {"CPU", "True"}},
                      {}});
  return variants;
}

/// Part (a) of one round: the continue variants and the exec baseline interleaved cycle by cycle,
/// a /run_train every few cycles, against a fresh server on the workspace's state.
Status run_start_latency(Workspace& ws, const Options& options) {
  const std::vector<std::string> gpus = {"--simulated-gpus",
                                         "sim:" + std::to_string(kSimulatedGpuMb)};
  DLNEST_ASSIGN_OR_RETURN(auto server, ServerProcess::start(ws.dlnest, ws.root + "/state-a", gpus,
                                                            ws.next_log("server-a")));
  server->set_end_tasks_on_stop();
  Api api(server->port(), options.nodelay);
  std::vector<StartVariant> variants = start_variants(ws);
  Series baseline{"posix_spawn of dlnest-worker from this process", {}};
  Series building{"reply to the POST (client)", {}};
  const int every = std::max(1, options.cycles / std::max(1, options.run_trains));
  const int build_every = std::max(1, options.cycles / std::max(1, options.builds));
  std::printf("(a) %d cycles:", options.cycles);
  for (int cycle = 0; cycle < options.cycles; ++cycle) {
    DLNEST_RETURN_IF_ERROR(variants[0].run(api).with_context("continue, CPU"));
    DLNEST_RETURN_IF_ERROR(variants[1].run(api).with_context("continue, simulated GPU"));
    DLNEST_ASSIGN_OR_RETURN(double ms, spawn_worker_ms(ws.worker));
    baseline.ms.push_back(ms);
    const int trains = static_cast<int>(variants[2].samples.size());
    if (cycle % every == 0 && trains < options.run_trains) {
      DLNEST_RETURN_IF_ERROR(variants[2].run(api).with_context("run_train"));
    }
    if (cycle % build_every == 0 && static_cast<int>(building.ms.size()) < options.builds) {
      DLNEST_ASSIGN_OR_RETURN(double ms, submit_needing_build(api, ws, cycle));
      building.ms.push_back(ms);
    }
    if (cycle % 10 == 9) std::printf(" %d", cycle + 1);
    std::fflush(stdout);
  }
  std::printf("\n");
  print_series_header();
  for (const StartVariant& v : variants) print_start_variant(v);
  std::printf("/run_train, CPU=True, a changed source (its build stage compiles)\n");
  print_series(building);
  std::printf("baseline\n");
  print_series(baseline);
  std::printf("\n");
  return Status::ok();
}

/// Trains the project once with the long freq config until its package holds a checkpoint,
/// deletes the task and keeps the package and its merged args for the benchmark. The first
/// /run_train also configures and builds the project (not timed).
Status make_package(Workspace& ws, const Options& options) {
  std::printf("setup: building the empty template and training it until its first checkpoint\n");
  DLNEST_ASSIGN_OR_RETURN(auto server, ServerProcess::start(ws.dlnest, ws.root + "/state-a", {},
                                                            ws.next_log("server-a")));
  server->set_end_tasks_on_stop();
  Api api(server->port(), options.nodelay);
  DLNEST_ASSIGN_OR_RETURN(
      Json reply, api.post("/run_train",
                           {{"config_path", ws.config}, {"freq_path", ws.freq}, {"CPU", "True"}}));
  const std::string id = reply["task_ID"];
  ws.package = reply["record_path"];
  DLNEST_RETURN_IF_ERROR(api.wait_state(id, "Running").status());
  // A file in Checkpoints/ may still be a temporary one: wait until the package lists one.
  const auto start = Steady::now();
  for (;;) {
    auto package = dlnest::SavePackage::open(ws.package);
    if (package.is_ok() && package->checkpoint_path(-1).is_ok()) {
      ws.args = package->args();
      break;
    }
    if (seconds_since(start) > kTaskStateTimeoutS) {
      return Status::failed_precondition("no checkpoint in " + ws.package + " in time");
    }
    sleep_s(0.05);
  }
  return api.delete_task(id);
}

// ---- (b) the read endpoints under load ----

/// Fills `state_dir` with `ended` tasks in the history (mostly Finished, every tenth Failed and
/// every tenth Killed) and `pending` GPU tasks larger than the simulated GPU, so they never start.
Status prepare_history(const Workspace& ws, const std::string& state_dir, int ended, int pending) {
  DLNEST_ASSIGN_OR_RETURN(dlnest::StateStore store, dlnest::StateStore::open(state_dir));
  for (int i = 0; i < ended + pending; ++i) {
    dlnest::TaskRecord task;
    task.args = ws.args;
    task.package_dir = ws.package + "-" + std::to_string(i);
    task.description = "history task " + std::to_string(i);
    task.cpu = i < ended && i % 2 == 0;
    task.memory_mb = i < ended ? kGpuTaskMb : kPendingTaskMb;
    DLNEST_ASSIGN_OR_RETURN(std::string id, store.add_with_new_id(task));
    if (i >= ended) continue;
    const std::vector<int> devices = task.cpu ? std::vector<int>{-1} : std::vector<int>{0};
    DLNEST_RETURN_IF_ERROR(store.mark_running(id, 100000 + i, 1, devices));
    if (i % 10 == 3) {
      DLNEST_RETURN_IF_ERROR(
          store.mark_ended(id, dlnest::TaskState::kFailed, 1, "exited with code 1"));
    } else if (i % 10 == 7) {
      DLNEST_RETURN_IF_ERROR(
          store.mark_ended(id, dlnest::TaskState::kKilled, -2, "deleted (ended by SIGINT)"));
    } else {
      DLNEST_RETURN_IF_ERROR(store.mark_ended(id, dlnest::TaskState::kFinished, 0));
    }
  }
  return Status::ok();
}

/// What one load run measured: latency of every request from its scheduled time, how late the
/// sends were, the bytes of one reply, and failures.
struct LoadResult {
  std::vector<double> latency_ms;
  std::vector<double> send_late_ms;
  double achieved_rate = 0;
  size_t reply_bytes = 0;
  int errors = 0;
};

/// Open loop: request i is due at start + i / rate; `connections` threads each take the next due
/// request when free, so a slow reply delays later sends, and that wait counts in their latency.
LoadResult run_load(int port, const std::string& target, int rate, const Options& options) {
  const int total = rate * options.seconds;
  LoadResult result;
  result.latency_ms.assign(static_cast<size_t>(total), 0);
  result.send_late_ms.assign(static_cast<size_t>(total), 0);
  std::atomic<int> next{0};
  std::atomic<int> errors{0};
  std::atomic<size_t> bytes{0};
  std::vector<Steady::time_point> last_done(static_cast<size_t>(options.connections));
  const Steady::time_point start = Steady::now() + std::chrono::milliseconds(50);
  auto client = [&](size_t thread) {
    httplib::Client http("127.0.0.1", port);
    http.set_keep_alive(true);
    http.set_tcp_nodelay(options.nodelay);
    http.set_read_timeout(60, 0);
    for (int i = next++; i < total; i = next++) {
      const auto due = start + std::chrono::duration_cast<Steady::duration>(
                                   std::chrono::duration<double>(i / double(rate)));
      std::this_thread::sleep_until(due);
      const auto sent = Steady::now();
      auto res = http.Get(target.c_str());
      const auto done = Steady::now();
      const bool ok = res && res->status == 200 &&
                      res->body.find("\"status\":\"success\"") != std::string::npos;
      if (!ok) ++errors;
      if (ok) bytes = res->body.size();
      result.latency_ms[i] = std::chrono::duration<double, std::milli>(done - due).count();
      result.send_late_ms[i] = std::chrono::duration<double, std::milli>(sent - due).count();
      last_done[thread] = done;
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 0; t < last_done.size(); ++t) threads.emplace_back(client, t);
  for (std::thread& t : threads) t.join();
  const auto end = *std::max_element(last_done.begin(), last_done.end());
  result.achieved_rate = total / std::chrono::duration<double>(end - start).count();
  result.errors = errors;
  result.reply_bytes = bytes;
  return result;
}

void print_load(const std::string& target, int rate, const LoadResult& r) {
  const double late_1ms = static_cast<double>(std::count_if(
      r.send_late_ms.begin(), r.send_late_ms.end(), [](double ms) { return ms > 1; }));
  std::printf("  %-30s %5d %8.1f %8.2f %8.2f %8.2f %8.2f %6.1f%% %8zu %4d\n", target.c_str(), rate,
              r.achieved_rate, percentile(r.latency_ms, 50), percentile(r.latency_ms, 90),
              percentile(r.latency_ms, 99), percentile(r.latency_ms, 100),
              100 * late_1ms / static_cast<double>(r.send_late_ms.size()), r.reply_bytes, r.errors);
}

/// A TCP connection to 127.0.0.1:`port`; -1 when it cannot connect.
int connect_tcp(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}

/// `count` connections that each send a request one byte per kSlowByteIntervalS and never finish
/// it (its last header never ends), like clients on a very bad link, for `seconds`; then they are
/// closed. A connection that the server closes or answers is opened again, and counted.
class SlowClients {
 public:
  SlowClients(int port, int count, double seconds)
      : port_(port), connections_(static_cast<size_t>(count)), seconds_(seconds) {
    thread_ = std::thread([this] { run(); });
  }
  ~SlowClients() {
    if (thread_.joinable()) thread_.join();
  }
  /// Waits until the connections are closed; how many were opened again.
  int join() {
    thread_.join();
    return reopened_;
  }

 private:
  struct Connection {
    int fd = -1;
    size_t sent = 0;
  };

  void run() {
    const auto start = Steady::now();
    for (double next = 0; next < seconds_; next += kSlowByteIntervalS) {
      std::this_thread::sleep_until(start + std::chrono::duration_cast<Steady::duration>(
                                                std::chrono::duration<double>(next)));
      for (Connection& c : connections_) send_next_byte(c);
    }
    std::this_thread::sleep_until(start + std::chrono::duration_cast<Steady::duration>(
                                              std::chrono::duration<double>(seconds_)));
    for (Connection& c : connections_) close_connection(c);
  }

  void send_next_byte(Connection& c) {
    static const std::string kStart = "GET /get_task_info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    pollfd p{c.fd, POLLIN, 0};
    if (c.fd >= 0 && ::poll(&p, 1, 0) > 0) {  // answered (a 408 or 400) or closed
      close_connection(c);
      ++reopened_;
    }
    if (c.fd < 0) c.fd = connect_tcp(port_);
    const char byte = c.sent < kStart.size() ? kStart[c.sent] : 'a';
    if (c.fd >= 0 && ::send(c.fd, &byte, 1, MSG_NOSIGNAL) == 1) ++c.sent;
  }

  static void close_connection(Connection& c) {
    if (c.fd >= 0) ::close(c.fd);
    c = Connection();
  }

  int port_;
  std::vector<Connection> connections_;
  double seconds_;
  int reopened_ = 0;
  std::thread thread_;
};

/// The end of part (b): /get_task_info at the fixed rate without, then with, slow clients that
/// hold connections (and the server's threads) open for the whole load window.
Status run_slow_client_load(int port, const Options& options) {
  const std::string target = "/get_task_info";
  print_load(target + " 0 slow clients", options.rate,
             run_load(port, target, options.rate, options));
  SlowClients clients(port, options.slow_clients, kSlowClientsSettleS + options.seconds);
  sleep_s(kSlowClientsSettleS);
  const LoadResult slow = run_load(port, target, options.rate, options);
  const int reopened = clients.join();
  print_load(target + " " + std::to_string(options.slow_clients) + " slow clients", options.rate,
             slow);
  std::printf(
      "  slow clients: one byte each per %.0f s; reopened after the server closed them: %d\n",
      kSlowByteIntervalS, reopened);
  return Status::ok();
}

/// Part (b) of one round: a fresh `dlnest server` on the prepared state, then the endpoints one
/// after the other, each at the fixed rate.
Status run_api_load(Workspace& ws, const Options& options) {
  const std::vector<std::string> gpus = {"--simulated-gpus",
                                         "sim:" + std::to_string(kHistoryGpuMb)};
  DLNEST_ASSIGN_OR_RETURN(auto server, ServerProcess::start(ws.dlnest, ws.root + "/state-b", gpus,
                                                            ws.next_log("server-b")));
  Api api(server->port(), options.nodelay);
  DLNEST_ASSIGN_OR_RETURN(Json active, api.get("/get_task_info"));
  DLNEST_ASSIGN_OR_RETURN(Json history, api.get("/get_task_history", {{"limit", "100000"}}));
  std::printf("(b) %zu pending tasks, %zu in the history; %d s per endpoint, %d connections\n",
              active["info"].size(), history["info"].size(), options.seconds, options.connections);
  std::printf("  %-30s %5s %8s %8s %8s %8s %8s %7s %8s %4s\n", "endpoint", "rate", "achieved",
              "p50 ms", "p90 ms", "p99 ms", "max ms", "late", "bytes", "errs");
  const std::vector<std::pair<std::string, int>> targets = {
      {"/get_server_info", options.rate},
      {"/get_task_info", options.rate},
      {"/get_devices_info", options.rate},
      {"/get_task_history?limit=1000", options.history_rate},
      {"/get_task_history", options.history_rate},
      {"/get_task_history?limit=10", options.history_rate}};
  for (const auto& [target, rate] : targets) {
    print_load(target, rate, run_load(server->port(), target, rate, options));
    std::fflush(stdout);
  }
  return run_slow_client_load(server->port(), options);
}

// ---- the run ----

Result<Workspace> make_workspace(const Options& options) {
  Workspace ws;
  std::string templ = options.dir + "/server_bench.XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    return Status::io_error("cannot create a folder in " + options.dir + ": " +
                            std::strerror(errno));
  }
  ws.root = templ;
  ws.dlnest = dlnest::path::join(options.bin_dir, "dlnest");
  ws.worker = dlnest::path::join(options.bin_dir, "dlnest-worker");
  for (const std::string& bin : {ws.dlnest, ws.worker}) {
    if (::access(bin.c_str(), X_OK) != 0) {
      return Status::not_found(bin +
                               " is missing; build dlnest and dlnest-worker or pass "
                               "--bin-dir");
    }
  }
  const std::string project = dlnest::path::join(ws.root, "proj");
  DLNEST_RETURN_IF_ERROR(dlnest::create_project(project, /*mnist=*/false));
  ws.config = dlnest::path::join(project, "root_config.json");
  const std::string edited = dlnest::path::join(ws.root, "edited");
  DLNEST_RETURN_IF_ERROR(dlnest::create_project(edited, /*mnist=*/false));
  ws.edited_config = dlnest::path::join(edited, "root_config.json");
  ws.edited_source = dlnest::path::join(edited, "Model/Runner.cpp");
  ws.freq = dlnest::path::join(ws.root, "long.json");
  DLNEST_ASSIGN_OR_RETURN(auto file, Env::default_env()->new_writable_file(ws.freq));
  DLNEST_RETURN_IF_ERROR(file->append("{\"epochs\": 100000}\n"));
  DLNEST_RETURN_IF_ERROR(file->close());
  return ws;
}

Status run_in(Workspace& ws, const Options& options) {
  DLNEST_RETURN_IF_ERROR(make_package(ws, options));
  const auto start = Steady::now();
  DLNEST_RETURN_IF_ERROR(
      prepare_history(ws, ws.root + "/state-b", options.history, options.pending));
  std::printf("setup: %d ended and %d pending tasks written with StateStore in %.1f s\n",
              options.history, options.pending, seconds_since(start));
  for (int round = 1; round <= options.rounds; ++round) {
    std::printf("\n=== round %d of %d ===\n", round, options.rounds);
    if (options.part != "b") DLNEST_RETURN_IF_ERROR(run_start_latency(ws, options));
    if (options.part != "a") DLNEST_RETURN_IF_ERROR(run_api_load(ws, options));
  }
  return Status::ok();
}

Status run_benchmark(const Options& options) {
  DLNEST_ASSIGN_OR_RETURN(Workspace ws, make_workspace(options));
  std::printf("server_bench: work folder %s, binaries from %s\n", ws.root.c_str(),
              options.bin_dir.c_str());
  const Status s = run_in(ws, options);
  const Status removed = Env::default_env()->remove_tree(ws.root);
  return s.is_ok() ? removed : s;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  auto options = parse_options(argc, argv);
  if (!options.is_ok()) {
    std::fprintf(stderr, "server_bench: %s\n%s", options.status().message().c_str(), kUsage);
    return 2;
  }
  const Status s = run_benchmark(*options);
  if (!s.is_ok()) {
    std::fprintf(stderr, "server_bench: %s\n", s.to_string().c_str());
    return 1;
  }
  return 0;
}
