// dashboard_bench: the latency of what the dashboard requests (docs/benchmarks.md, "Dashboard
// latency"): its page and files, the task lists, and a task's metrics and progress, each at a
// fixed request rate (open loop) from this process, with `dlnest server` running in another one
// and 1,000 tasks in its history, one of them with a 5,000-record metrics.jsonl.
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "dlnest/status.h"
#include "env/path.h"
#include "state/state_store.h"

extern char** environ;

namespace {

using Steady = std::chrono::steady_clock;

constexpr int kHistory = 1000;
constexpr int kMetricRecords = 5000;
constexpr int kRate = 200;
/// Whole metrics files and the whole history: a page asks for them once, not every second.
constexpr int kBulkRate = 10;
constexpr int kSeconds = 5;
constexpr int kConnections = 8;

/// Ended tasks in `state_dir`; the first one's package holds metrics.jsonl and progress.json.
/// Returns the first task's id.
dlnest::Result<std::string> prepare(const std::string& root) {
  DLNEST_ASSIGN_OR_RETURN(dlnest::StateStore store,
                          dlnest::StateStore::open(dlnest::path::join(root, "state")));
  std::string first;
  for (int i = 0; i < kHistory; ++i) {
    dlnest::TaskRecord task;
    task.package_dir = dlnest::path::join(root, "pkg-" + std::to_string(i));
    task.description = "history task " + std::to_string(i);
    task.cpu = true;
    DLNEST_ASSIGN_OR_RETURN(std::string id, store.add_with_new_id(task));
    DLNEST_RETURN_IF_ERROR(store.mark_running(id, 100000 + i, 1, {-1}));
    DLNEST_RETURN_IF_ERROR(store.mark_ended(id, dlnest::TaskState::kFinished, 0));
    if (i == 0) first = id;
  }
  const std::string package = dlnest::path::join(root, "pkg-0");
  ::mkdir(package.c_str(), 0755);
  std::ofstream metrics(dlnest::path::join(package, "metrics.jsonl"));
  for (int s = 0; s < kMetricRecords; ++s) {
    metrics << R"({"kind":"step","step":)" << s << R"(,"epoch":)" << s / 100
            << R"(,"time":1.5,"values":{"loss":0.25,"acc":0.75}})"
            << "\n";
  }
  std::ofstream(dlnest::path::join(package, "progress.json"))
      << R"({"stage":"train","epoch":3,"epochs":10,"step":5,"steps_per_epoch":100})";
  return first;
}

pid_t start_server(const std::string& dlnest, const std::string& root, int port) {
  std::vector<std::string> args = {dlnest,
                                   "--state-dir",
                                   dlnest::path::join(root, "state"),
                                   "server",
                                   "--port",
                                   std::to_string(port),
                                   "--simulated-gpus",
                                   "sim:24000"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log = dlnest::path::join(root, "server.log");
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT, 0644);
  pid_t pid = 0;
  posix_spawn(&pid, dlnest.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  httplib::Client probe("127.0.0.1", port);
  for (int i = 0; i < 3000 && !probe.Get("/get_server_info"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pid;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p / 100 * static_cast<double>(v.size())))];
}

/// Request i is due at start + i / kRate; each connection takes the next due one, and its
/// latency counts from when it was due, so a slow reply delays the ones behind it.
void measure(int port, const std::string& target, int rate) {
  const int total = rate * kSeconds;
  std::vector<double> latency(total);
  std::atomic<int> next{0}, errors{0};
  size_t bytes = 0;
  const auto start = Steady::now() + std::chrono::milliseconds(50);
  std::vector<std::thread> threads;
  for (int c = 0; c < kConnections; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      for (int i = next++; i < total; i = next++) {
        const auto due = start + std::chrono::duration_cast<Steady::duration>(
                                     std::chrono::duration<double>(i / double(rate)));
        std::this_thread::sleep_until(due);
        auto res = client.Get(target);
        latency[i] = std::chrono::duration<double, std::milli>(Steady::now() - due).count();
        if (!res || res->status != 200) ++errors;
        if (res && c == 0) bytes = res->body.size();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::printf("  %-52s %5d %8.2f %8.2f %8.2f %8.2f %9zu %4d\n", target.c_str(), rate,
              percentile(latency, 50), percentile(latency, 90), percentile(latency, 99),
              percentile(latency, 100), bytes, errors.load());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string bin_dir = argc > 1 ? argv[1] : dlnest::path::parent(argv[0]);
  const char* tmp = std::getenv("TMPDIR");
  std::string root = std::string(tmp != nullptr ? tmp : "/tmp") + "/dashboard_bench.XXXXXX";
  if (::mkdtemp(root.data()) == nullptr) return 1;
  auto first = prepare(root);
  if (!first.is_ok()) {
    std::fprintf(stderr, "dashboard_bench: %s\n", first.status().message().c_str());
    return 1;
  }
  const int port = 20000 + static_cast<int>(::getpid() % 20000);
  const pid_t server = start_server(dlnest::path::join(bin_dir, "dlnest"), root, port);
  const std::string id = first.value();
  std::printf("%d tasks in the history, %d s per target, %d connections\n", kHistory, kSeconds,
              kConnections);
  std::printf("  %-52s %5s %8s %8s %8s %8s %9s %4s\n", "target", "req/s", "p50 ms", "p90 ms",
              "p99 ms", "max ms", "bytes", "errs");
  const std::vector<std::pair<std::string, int>> targets = {
      {"/", kRate},
      {"/dashboard.js", kRate},
      {"/get_task_info", kRate},
      {"/get_devices_info", kRate},
      {"/get_task_history?limit=50", kRate},
      {"/get_task_progress?task_ID=" + id, kRate},
      {"/get_task_metrics?task_ID=" + id + "&offset=1000000", kRate},  // polled: nothing new
      {"/get_task_metrics?task_ID=" + id, kBulkRate},
      {"/get_task_history?limit=1000", kBulkRate}};
  for (const auto& [target, rate] : targets) measure(port, target, rate);
  ::kill(server, SIGINT);
  ::waitpid(server, nullptr, 0);
  std::system(("rm -rf '" + root + "'").c_str());
  return 0;
}
