// The server through its HTTP API, with real workers training the empty template: the task life
// cycle, deletion, restarts, adoption by a new server, the token, and bad requests of every kind.
#include "server/server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "dlnest/config.h"
#include "dlnest/env.h"
#include "dlnest/save_package.h"
#include "env/path.h"
#include "project/project_builder.h"
#include "supervisor/proc_stat.h"
#include "supervisor/supervisor.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using testing::TempDir;
using Clock = std::chrono::steady_clock;

/// A project from the empty template, shared by the tests of this file so that it is built once.
class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    project_root_ = new TempDir();
    project_ = project_root_->file("proj");
    ASSERT_TRUE(create_project(project_, /*mnist=*/false).is_ok());
    // A short run and a long one (to have something running for a while).
    project_root_->write("quick.json", R"({"epochs": 2})");
    project_root_->write("long.json", R"({"epochs": 100000})");
  }
  static void TearDownTestSuite() {
    delete project_root_;
    project_root_ = nullptr;
  }

  void TearDown() override {
    if (server_ != nullptr) server_->stop();
  }

  std::unique_ptr<Server> start(ServerOptions options = {}) {
    options.port = 0;
    options.quiet = true;
    options.delay_s = 0.5;
    if (options.state_dir.empty()) options.state_dir = state_.file("state");
    options.worker_path = std::string(DLNEST_BIN_DIR) + "/dlnest-worker";
    auto server = Server::start(options);
    EXPECT_TRUE(server.is_ok()) << server.status().message();
    return server.is_ok() ? std::move(server).value() : nullptr;
  }

  /// Starts the server of the test (replacing an earlier one) and a client of it.
  void serve(ServerOptions options = {}) {
    server_ = start(options);
    ASSERT_NE(server_, nullptr);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(300, 0);
  }

  Json post(const std::string& path, const httplib::Params& params = {}) {
    auto res = client_->Post(path.c_str(), params);
    EXPECT_TRUE(res) << path;
    if (!res) return Json();
    EXPECT_EQ(res->status, 200) << path << " " << res->body;
    return Json::parse(res->body);
  }

  Json get(const std::string& path, const httplib::Params& params = {},
           const httplib::Headers& headers = {}) {
    auto res = client_->Get(path.c_str(), params, headers);
    EXPECT_TRUE(res) << path;
    if (!res) return Json();
    EXPECT_EQ(res->status, 200) << path << " " << res->body;
    return Json::parse(res->body);
  }

  /// Queues a training that waits: it asks for more memory than the simulated GPUs have.
  std::string queue_waiting_task() {
    const Json queued = post("/run_train", {{"config_path", config()},
                                            {"freq_path", freq("quick.json")},
                                            {"memory_consumption", "5000"}});
    EXPECT_EQ(queued.value("status", ""), "success") << queued;
    return queued.value("task_ID", "");
  }

  static std::string config() { return path::join(project_, "root_config.json"); }
  static std::string freq(const char* name) { return project_root_->file(name); }

  /// Submits a CPU training of the project; returns its id.
  std::string submit(const char* freq_name, httplib::Params extra = {}) {
    httplib::Params p = {
        {"config_path", config()}, {"freq_path", freq(freq_name)}, {"CPU", "True"}};
    p.insert(extra.begin(), extra.end());
    const Json reply = post("/run_train", p);
    EXPECT_EQ(reply.value("status", ""), "success") << reply;
    return reply.value("task_ID", "");
  }

  Json task(const std::string& id) { return get("/get_task", {{"task_ID", id}})["info"]; }

  /// Waits until task `id` is in `state` (or `timeout_s` passed); returns its info. The default
  /// leaves room for the build stage of a new training on a busy machine.
  Json wait_state(const std::string& id, const std::string& state, double timeout_s = 600) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
    Json info;
    while (Clock::now() < deadline) {
      info = task(id);
      if (info.value("status", "") == state) return info;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << id << " never became " << state << ": " << info.dump();
    return info;
  }

  /// Waits until the build stage of task `id` is over (it waits for devices or runs).
  Json wait_built(const std::string& id, double timeout_s = 600) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
    Json info;
    while (Clock::now() < deadline) {
      info = task(id);
      if (!info.value("needs_build", true)) return info;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << id << " was never built: " << info.dump();
    return info;
  }

  /// Waits until the task's package holds a checkpoint (saved and recorded in _package.json,
  /// not merely a temporary file being written).
  void wait_checkpoint(const std::string& package, double timeout_s = 60) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
    while (Clock::now() < deadline) {
      auto opened = SavePackage::open(package);
      if (opened.is_ok() && opened->checkpoint_path(-1).is_ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "no checkpoint in " << package;
  }

  static inline TempDir* project_root_ = nullptr;
  static inline std::string project_;
  TempDir state_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ServerTest, TrainsAProjectToFinishedAndKeepsItInTheHistory) {
  ASSERT_NO_FATAL_FAILURE(serve());
  const std::string id = submit("quick.json", {{"description", "first"}});
  ASSERT_EQ(id.rfind("T_", 0), 0u) << id;
  const Json info = wait_state(id, "Finished");
  EXPECT_EQ(info["exit_code"], 0);
  EXPECT_EQ(info["devices"], Json::array({-1}));
  EXPECT_EQ(info["description"], "first");
  EXPECT_EQ(info["type"], "Train");
  EXPECT_GT(info["end_time"].get<double>(), info["start_time"].get<double>());
  // The output and the package.
  const Json out = get("/get_task_output", {{"task_ID", id}, {"offset", "0"}});
  EXPECT_NE(out["text"].get<std::string>().find("[dlnest] finished"), std::string::npos) << out;
  EXPECT_EQ(out["offset"], 0);
  EXPECT_EQ(out["next_offset"].get<int64_t>(), out["size"].get<int64_t>());
  const std::string package = info["package_dir"];
  EXPECT_TRUE(Env::default_env()->file_exists(path::join(package, "metrics.jsonl")));
  // Ended tasks leave /get_task_info and stay in the history.
  EXPECT_EQ(get("/get_task_info")["info"], Json::array());
  const Json history = get("/get_task_history")["info"];
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0]["ID"], id);
  // The server's own messages tell the story, read with offsets.
  const Json log = get("/get_DLNest_output");
  const std::string text = log["text"];
  EXPECT_NE(text.find("[Run train] " + id), std::string::npos) << text;
  EXPECT_NE(text.find("[Start task] " + id), std::string::npos) << text;
  EXPECT_NE(text.find("[Finished] " + id), std::string::npos) << text;
  const Json rest =
      get("/get_DLNest_output", {{"offset", std::to_string(log["next_offset"].get<int64_t>())}});
  EXPECT_EQ(rest["text"], "");
  const Json styled = get("/get_DLNest_output", {{"styled", "True"}});
  ASSERT_TRUE(styled["text"].is_array());
  EXPECT_EQ(styled["text"][0][0], "#ff0f9f bold");
  EXPECT_EQ(post("/clear")["status"], "success");
  EXPECT_EQ(get("/get_DLNest_output", {{"styled", "True"}})["text"],
            Json::array({Json::array({"", ""})}));
}

TEST_F(ServerTest, DeletesPendingAndRunningTasksAndLeavesNoProcess) {
  ServerOptions options;
  options.simulated_gpus = "sim:1000";
  ASSERT_NO_FATAL_FAILURE(serve(options));
  const std::string pending = queue_waiting_task();
  ASSERT_FALSE(pending.empty());
  wait_built(pending);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(task(pending)["status"], "Pending");
  EXPECT_EQ(post("/del_task", {{"task_ID", pending}})["status"], "success");
  EXPECT_EQ(task(pending)["status"], "Killed");
  // A running CPU task is ended through its process group.
  const std::string running = submit("long.json");
  const Json info = wait_state(running, "Running");
  const int pid = info["pid"];
  EXPECT_EQ(post("/del_task", {{"task_ID", running}})["status"], "success");
  const Json killed = wait_state(running, "Killed", 30);
  EXPECT_NE(killed["error"].get<std::string>().find("deleted"), std::string::npos) << killed;
  EXPECT_TRUE(process_group_members(pid).empty());
  // Deleting again, or deleting an unknown id, is an error (the original said "success").
  const Json again = post("/del_task", {{"task_ID", running}});
  EXPECT_EQ(again["status"], "error");
  EXPECT_NE(again["error"].get<std::string>().find("already ended (Killed)"), std::string::npos);
  const Json unknown = post("/del_task", {{"task_ID", "T_0000.0000_0"}});
  EXPECT_EQ(unknown["error"], "unknown task T_0000.0000_0");
}

TEST_F(ServerTest, RunsDdpTasksOnCpuRanksAndDeletesEveryRank) {
  ASSERT_NO_FATAL_FAILURE(serve());
  const std::string id = submit("quick.json", {{"DDP", "True"}, {"nproc", "2"}});
  const Json info = wait_state(id, "Finished");
  EXPECT_EQ(info["nproc"], 2);
  EXPECT_EQ(info["DDP"], true);
  const std::string package = info["package_dir"];
  for (const char* file : {"_output_0.txt", "_output_1.txt"}) {
    const auto text = Env::default_env()->read_file(path::join(package, file));
    ASSERT_TRUE(text.is_ok()) << file;
    EXPECT_NE(text->find("[dlnest] finished"), std::string::npos) << *text;
  }
  const Json out = get("/get_task_output", {{"task_ID", id}, {"offset", "0"}});
  EXPECT_NE(out["text"].get<std::string>().find("[dlnest] all ranks finished"), std::string::npos)
      << out;
  // A running DDP task is the launcher and its ranks, in one process group: del ends them all.
  const std::string running = submit("long.json", {{"DDP", "True"}, {"nproc", "2"}});
  const int pid = wait_state(running, "Running")["pid"];
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline && process_group_members(pid).size() < 3) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GE(process_group_members(pid).size(), 3u);
  ASSERT_EQ(post("/del_task", {{"task_ID", running}})["status"], "success");
  wait_state(running, "Killed", 30);
  EXPECT_TRUE(process_group_members(pid).empty());
}

TEST_F(ServerTest, FiftySubmitDeleteCyclesOfSingleAndDdpTasksLeaveNoProcess) {
  ASSERT_NO_FATAL_FAILURE(serve());
  // One package with a checkpoint, then 50 continues of it, each deleted once it runs.
  const std::string first = submit("long.json");
  const Json info = wait_state(first, "Running");
  const std::string package = info["package_dir"];
  wait_checkpoint(package);
  ASSERT_EQ(post("/del_task", {{"task_ID", first}})["status"], "success");
  wait_state(first, "Killed", 30);
  std::vector<int> pids;
  for (int cycle = 0; cycle < 50; ++cycle) {
    // Every other cycle is a DDP task: a launcher and two rank processes in one group.
    const bool ddp = cycle % 2 == 1;
    httplib::Params params = {{"record_path", package}, {"CPU", "True"}};
    if (ddp) params.insert({{"DDP", "True"}, {"nproc", "2"}});
    const Json reply = post("/continue_train", params);
    ASSERT_EQ(reply["status"], "success") << reply;
    const std::string id = reply["task_ID"];
    const int pid = wait_state(id, "Running", 30)["pid"];
    pids.push_back(pid);
    if (ddp) {
      const auto deadline = Clock::now() + std::chrono::seconds(30);
      while (process_group_members(pid).size() < 3 && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      ASSERT_GE(process_group_members(pid).size(), 3u) << "the ranks of " << id << " never started";
    }
    ASSERT_EQ(post("/del_task", {{"task_ID", id}})["status"], "success");
    wait_state(id, "Killed", 30);
  }
  for (int pid : pids) {
    EXPECT_TRUE(process_group_members(pid).empty()) << "process group " << pid << " survived";
  }
  // Nothing of ours is left as a zombie either.
  for (const ProcStat& p : list_processes()) {
    EXPECT_FALSE(p.ppid == ::getpid() && p.is_zombie()) << "zombie child " << p.pid;
  }
}

TEST_F(ServerTest, AFailedTaskIsRestartedFromItsLatestCheckpoint) {
  ASSERT_NO_FATAL_FAILURE(serve());
  const std::string id = submit("long.json", {{"max_restarts", "1"}});
  const Json info = wait_state(id, "Running");
  wait_checkpoint(info["package_dir"]);
  // A crash of the worker (not a deletion): the task fails and is continued.
  ASSERT_EQ(::kill(info["pid"].get<int>(), SIGKILL), 0);
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  Json now;
  while (Clock::now() < deadline) {
    now = task(id);
    if (now["restarts"] == 1 && now["status"] == "Running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(now["restarts"], 1) << now;
  ASSERT_EQ(now["status"], "Running") << now;
  EXPECT_NE(now["pid"], info["pid"]);
  EXPECT_NE(now["error"].get<std::string>().find("SIGKILL"), std::string::npos) << now;
  // It continued from a checkpoint: its output says so.
  const auto out_deadline = Clock::now() + std::chrono::seconds(30);
  std::string text;
  while (Clock::now() < out_deadline && text.find("continuing from") == std::string::npos) {
    text = get("/get_task_output",
               {{"task_ID", id}, {"offset", "0"}, {"max_bytes", "4000000"}})["text"];
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(text.find("continuing from the latest checkpoint"), std::string::npos) << text;
  // A second crash uses up the restarts: Failed for good.
  ASSERT_EQ(::kill(now["pid"].get<int>(), SIGKILL), 0);
  const Json failed = wait_state(id, "Failed", 30);
  EXPECT_EQ(failed["restarts"], 1);
}

TEST_F(ServerTest, ANewTrainingIsQueuedAtOnceAndBuiltAsItsFirstStage) {
  ASSERT_NO_FATAL_FAILURE(serve());
  // A project of its own: its first build is cold (tens of seconds).
  const std::string project = state_.file("fresh");
  ASSERT_TRUE(create_project(project, /*mnist=*/false).is_ok());
  const auto before = Clock::now();
  const Json reply = post("/run_train", {{"config_path", path::join(project, "root_config.json")},
                                         {"freq_path", freq("quick.json")},
                                         {"CPU", "True"}});
  const auto answered = Clock::now() - before;
  ASSERT_EQ(reply["status"], "success") << reply;
  EXPECT_LT(answered, std::chrono::seconds(5)) << "the submit waited for the build";
  const std::string id = reply["task_ID"];
  const Json building = wait_state(id, "Building", 30);
  EXPECT_TRUE(building["needs_build"].get<bool>());
  // The compiler's output is the task's output as it happens, and the task info carries the
  // build's progress (ninja's count as a fraction).
  const auto deadline = Clock::now() + std::chrono::seconds(300);
  std::string text;
  Json counted;
  while (Clock::now() < deadline) {
    const Json info = task(id);
    if (!info.value("needs_build", false)) break;
    text = get("/get_task_output", {{"task_ID", id}, {"offset", "0"}})["text"];
    const Json progress = info.value("progress", Json());
    if (progress.is_object() && progress["stage"] == "build" && progress["fraction"].is_number()) {
      counted = progress;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(text.find("[build]"), std::string::npos) << text;
  ASSERT_TRUE(counted.is_object()) << "no build progress in the task info while it built";
  EXPECT_TRUE(counted["total"].is_number()) << counted;
  const Json info = wait_state(id, "Finished");
  EXPECT_FALSE(info["needs_build"].get<bool>());
  const std::string log = get("/get_DLNest_output")["text"];
  EXPECT_NE(log.find("[Build] " + id), std::string::npos) << log;
  EXPECT_NE(log.find("[Built] " + id), std::string::npos) << log;
}

TEST_F(ServerTest, TheTaskInfoOfARunningTrainingCarriesItsProgress) {
  ASSERT_NO_FATAL_FAILURE(serve());
  const std::string id = submit("long.json");
  wait_state(id, "Running");
  // The entries of /get_task_info and /get_task carry the package's progress.json as it moves.
  std::set<std::pair<int, int>> seen;
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  Json progress;
  while (Clock::now() < deadline && seen.size() < 3) {
    const Json info = get("/get_task_info")["info"];
    ASSERT_EQ(info.size(), 1u) << info;
    progress = info[0].value("progress", Json());
    if (progress.is_object() && progress["stage"] == "train" && progress["step"].is_number()) {
      seen.emplace(progress["epoch"].get<int>(), progress["step"].get<int>());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(seen.size(), 3u) << progress;
  EXPECT_EQ(progress["epochs"], 100000) << progress;
  EXPECT_TRUE(task(id)["progress"].is_object());
  ASSERT_EQ(post("/del_task", {{"task_ID", id}})["status"], "success");
  const Json killed = wait_state(id, "Killed", 60);
  EXPECT_FALSE(killed.contains("progress")) << "an ended task reads no file";
  EXPECT_FALSE(get("/get_task_history")["info"][0].contains("progress"));
}

TEST_F(ServerTest, ACompileErrorFailsTheTaskWithTheCompilersFirstErrorLine) {
  ASSERT_NO_FATAL_FAILURE(serve());
  const std::string project = state_.file("broken");
  ASSERT_TRUE(create_project(project, /*mnist=*/false).is_ok());
  std::ofstream(path::join(project, "Model/Runner.cpp"), std::ios::app) << "\nint broken = ;\n";
  const std::string id =
      post("/run_train",
           {{"config_path", path::join(project, "root_config.json")}, {"CPU", "True"}})["task_ID"];
  const Json info = wait_state(id, "Failed");
  const std::string error = info["error"];
  EXPECT_EQ(error.rfind("build failed: ", 0), 0u) << error;
  EXPECT_NE(error.find("Runner.cpp"), std::string::npos) << error;
  EXPECT_NE(error.find("error:"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;  // one line
}

TEST_F(ServerTest, DeletingABuildingTaskEndsItsCompilers) {
  ASSERT_NO_FATAL_FAILURE(serve());
  const std::string project = state_.file("slow");
  ASSERT_TRUE(create_project(project, /*mnist=*/false).is_ok());
  const std::string id =
      post("/run_train",
           {{"config_path", path::join(project, "root_config.json")}, {"CPU", "True"}})["task_ID"];
  const int pid = wait_state(id, "Building", 30)["pid"];
  // Wait until a compiler runs in the task's session (in a process group of its own).
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  bool compiling = false;
  while (Clock::now() < deadline && !compiling) {
    for (const ProcStat& p : list_session(pid)) compiling = compiling || p.pgrp != pid;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(compiling) << "no compiler was seen";
  ASSERT_EQ(post("/del_task", {{"task_ID", id}})["status"], "success");
  const Json killed = wait_state(id, "Killed", 30);
  EXPECT_NE(killed["error"].get<std::string>().find("deleted"), std::string::npos) << killed;
  EXPECT_TRUE(list_session(pid).empty()) << "a process of the build survived";
}

TEST_F(ServerTest, ANewServerAdoptsTheTasksOfTheOldOne) {
  ASSERT_NO_FATAL_FAILURE(serve());
  const std::string id = submit("long.json");
  const int pid = wait_state(id, "Running")["pid"];
  server_->stop();  // a server that stops leaves its tasks running
  EXPECT_FALSE(process_group_members(pid).empty());
  ASSERT_NO_FATAL_FAILURE(serve());
  const Json info = task(id);
  EXPECT_EQ(info["status"], "Running");
  EXPECT_EQ(info["pid"], pid);
  const std::string log = get("/get_DLNest_output")["text"];
  EXPECT_NE(log.find("[Recover] " + id + " is still Running"), std::string::npos) << log;
  ASSERT_EQ(post("/del_task", {{"task_ID", id}})["status"], "success");
  wait_state(id, "Killed", 30);
  EXPECT_TRUE(process_group_members(pid).empty());
}

TEST_F(ServerTest, ASecondServerOnTheSameStateOrPortIsRefused) {
  ASSERT_NO_FATAL_FAILURE(serve());
  ServerOptions same_state;
  same_state.state_dir = state_.file("state");
  same_state.quiet = true;
  auto second = Server::start(same_state);
  ASSERT_FALSE(second.is_ok());
  EXPECT_NE(second.status().message().find("in use by another DLNest server"), std::string::npos)
      << second.status().message();
  ServerOptions same_port;
  same_port.state_dir = state_.file("other");
  same_port.port = server_->port();
  same_port.quiet = true;
  auto third = Server::start(same_port);
  ASSERT_FALSE(third.is_ok());
  EXPECT_NE(third.status().message().find("address already in use"), std::string::npos)
      << third.status().message();
}

TEST_F(ServerTest, ANonLoopbackServerWithoutTlsNeedsInsecure) {
  ServerOptions options;
  options.host = "0.0.0.0";
  options.port = 0;
  options.quiet = true;
  options.state_dir = state_.file("state");
  options.worker_path = std::string(DLNEST_BIN_DIR) + "/dlnest-worker";
  auto refused = Server::start(options);
  ASSERT_FALSE(refused.is_ok());
  EXPECT_NE(refused.status().message().find("--tls-cert and --tls-key, or pass --insecure"),
            std::string::npos)
      << refused.status().message();
  options.insecure = true;
  server_ = start(options);
  ASSERT_NE(server_, nullptr);
  client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  const std::string log =
      get("/get_DLNest_output", {}, {{"Authorization", "Bearer " + server_->token()}})["text"];
  EXPECT_NE(log.find("[Warning] --insecure: no TLS"), std::string::npos) << log;
}

TEST_F(ServerTest, ANonLoopbackServerRequiresItsToken) {
  ServerOptions options;
  options.host = "0.0.0.0";
  options.insecure = true;
  server_ = start(options);
  ASSERT_NE(server_, nullptr);
  const std::string file = path::join(state_.file("state"), "token");
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(server_->token().size(), 32u);
  httplib::Client c("127.0.0.1", server_->port());
  auto res = c.Get("/get_task_info");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(Json::parse(res->body)["status"], "error");
  res = c.Get("/get_task_info", {{"Authorization", "Bearer wrong"}});
  EXPECT_EQ(res->status, 401);
  res = c.Get("/get_task_info", {{"Authorization", "Bearer " + server_->token()}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = c.Get("/get_task_info", {{"X-DLNest-Token", server_->token()}});
  EXPECT_EQ(res->status, 200);
}

/// Every endpoint with missing, malformed and nonsensical input: each gets a JSON error naming
/// the problem, and the server keeps serving with nothing lost.
TEST_F(ServerTest, BadRequestsGetClearErrorsAndTheServerStaysUp) {
  ServerOptions options;
  options.simulated_gpus = "sim:1000,1000";
  ASSERT_NO_FATAL_FAILURE(serve(options));
  // Something saved before the abuse.
  const std::string kept = queue_waiting_task();
  ASSERT_FALSE(kept.empty());
  wait_built(kept);

  struct Case {
    const char* method;
    const char* path;
    httplib::Params params;
    const char* error_part;
  };
  const std::string nowhere = state_.file("no/such/config.json");
  const std::vector<Case> cases = {
      {"POST", "/run_train", {}, "Missing argument config_path"},
      {"POST", "/run_train", {{"config_path", nowhere}}, "no/such/config.json"},
      {"POST",
       "/run_train",
       {{"config_path", config()}, {"CPU", "yes"}},
       "CPU: expected True or False, got 'yes'"},
      {"POST",
       "/run_train",
       {{"config_path", config()}, {"memory_consumption", "lots"}},
       "memory_consumption must be a positive number of MB, -1 (the default) or auto; got "
       "\"lots\""},
      {"POST",
       "/run_train",
       {{"config_path", config()}, {"memory_consumption", "autox"}},
       "memory_consumption must be a positive number of MB, -1 (the default) or auto; got "
       "\"autox\""},
      {"POST",
       "/run_train",
       {{"config_path", config()}, {"memory_consumption", "-5"}},
       "memory_consumption must be a positive number of MB, -1 (the default) or auto; got \"-5\""},
      {"POST",
       "/run_train",
       {{"config_path", config()}, {"memory_consumption", "99999999999999999999"}},
       "memory_consumption must be a positive number of MB"},
      {"POST",
       "/run_train",
       {{"config_path", config()}, {"memory_consumption", "0"}},
       "memory_consumption must be"},
      {"POST", "/run_train", {{"config_path", config()}, {"max_restarts", "-1"}}, "max_restarts"},
      {"POST",
       "/run_train",
       {{"config_path", config()}, {"CPU", "True"}, {"nproc", "2"}},
       "nproc applies to DDP tasks"},
      {"POST",
       "/run_train",
       {{"config_path", config()}, {"DDP", "True"}, {"nproc", "2"}},
       "nproc applies to CPU tasks"},
      {"POST",
       "/run_train",
       {{"config_path", config()}, {"DDP", "True"}, {"CPU", "True"}, {"nproc", "-3"}},
       "nproc must be between 1 and 1024"},
      {"POST",
       "/continue_train",
       {{"record_path", project_}, {"nproc", "two"}},
       "nproc: expected an integer, got 'two'"},
      {"POST", "/run_train", {{"config_path", "/etc/passwd"}}, "/etc/passwd"},
      {"POST", "/run_train", {{"config_path", "../../../../etc/shadow"}}, "shadow"},
      {"POST", "/continue_train", {}, "Missing argument record_path"},
      {"POST", "/continue_train", {{"record_path", "/nonexistent/save"}}, "/nonexistent/save"},
      {"POST",
       "/continue_train",
       {{"record_path", project_}, {"checkpoint_ID", "x"}},
       "checkpoint_ID: expected an integer, got 'x'"},
      {"POST", "/continue_train", {{"record_path", project_}}, "is not a DLNest save package"},
      {"POST", "/analyze", {}, "Missing argument record_path"},
      {"POST",
       "/analyze",
       {{"record_path", "/nonexistent/save"}, {"CPU", "True"}},
       "/nonexistent/save"},
      {"POST",
       "/analyze",
       {{"record_path", project_}, {"checkpoint_ID", "last"}},
       "checkpoint_ID: expected an integer, got 'last'"},
      {"POST",
       "/run_exp",
       {{"task_ID", "A_0000.0000_0"}, {"command", "getAcc"}},
       "unknown task A_0000.0000_0"},
      {"POST", "/run_exp", {{"task_ID", kept}, {"command", "getAcc"}}, "is a training task"},
      {"POST", "/run_exp", {{"task_ID", kept}}, "Missing argument command"},
      {"POST", "/del_task", {}, "Missing argument task_ID"},
      {"POST", "/del_task", {{"task_ID", "T_0000.0000_0"}}, "unknown task T_0000.0000_0"},
      {"POST", "/del_task", {{"task_ID", std::string(1000, 'x')}}, "task_ID: not a task id"},
      {"POST", "/new_proj", {}, "Missing argument target_dir"},
      {"POST", "/new_proj", {{"target_dir", project_}}, "already exists"},
      {"POST",
       "/new_proj",
       {{"target_dir", project_ + "/x"}, {"MNIST", "maybe"}},
       "MNIST: expected True or False"},
      {"POST", "/change_delay", {}, "Missing argument new_delay"},
      {"POST",
       "/change_delay",
       {{"new_delay", "abc"}},
       "new_delay: expected an integer, got 'abc'"},
      {"POST", "/change_delay", {{"new_delay", "-5"}}, "new_delay must be between"},
      {"POST", "/change_max_task_per_device", {}, "Missing argument new_max"},
      {"POST",
       "/change_max_task_per_device",
       {{"new_max", "1.5"}},
       "new_max: expected an integer, got '1.5'"},
      {"POST", "/change_max_task_per_device", {{"new_max", "0"}}, "new_max must be between"},
      {"POST",
       "/change_devices",
       {{"new_devices_IDs", "gpu0"}},
       "new_devices_IDs: expected an integer, got 'gpu0'"},
      {"POST", "/change_devices", {{"new_devices_IDs", "7"}}, "there is no device 7"},
      {"GET", "/get_analyze_output", {}, "Missing argument task_ID"},
      {"GET", "/get_analyze_output", {{"task_ID", "A_0000.0000_0"}}, "unknown task A_0000.0000_0"},
      {"GET", "/get_analyze_output", {{"task_ID", kept}}, "is a training task"},
      {"GET", "/get_task", {{"task_ID", "nope"}}, "unknown task nope"},
      {"GET", "/get_task_output", {{"task_ID", kept}, {"offset", "-1"}}, "offset must be >= 0"},
      {"GET", "/get_task_output", {{"task_ID", kept}, {"max_bytes", "0"}}, "max_bytes must be"},
      {"GET", "/get_task_history", {{"limit", "ten"}}, "limit: expected an integer"},
      {"GET", "/get_DLNest_output", {{"styled", "sure"}}, "styled: expected True or False"},
  };
  for (const Case& c : cases) {
    auto res = std::string(c.method) == "GET" ? client_->Get(c.path, c.params, httplib::Headers{})
                                              : client_->Post(c.path, c.params);
    ASSERT_TRUE(res) << c.path << " got no answer";
    EXPECT_EQ(res->status, 200) << c.path;
    const Json reply = Json::parse(res->body);
    EXPECT_EQ(reply["status"], "error") << c.path << " " << res->body;
    EXPECT_NE(reply.value("error", "").find(c.error_part), std::string::npos)
        << c.path << ": " << reply.value("error", "") << " lacks " << c.error_part;
  }

  // Wrong methods, unknown paths and path tricks: 405 / 404 with a JSON error.
  for (const char* p : {"/get_task_info", "/get_devices_info", "/get_DLNest_output"}) {
    auto res = client_->Post(p);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 405) << p;
    EXPECT_EQ(Json::parse(res->body)["status"], "error");
  }
  for (const char* p : {"/clear", "/run_train", "/del_task"}) {
    auto res = client_->Get(p);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 405) << p;
  }
  for (const char* p : {"/no_such_endpoint", "/get_task_info/../clear", "/../../etc/passwd",
                        "//get_task_info", "/%2e%2e/%2e%2e/etc/passwd", "/get_task_info%00"}) {
    auto res = client_->Get(p);
    ASSERT_TRUE(res) << p;
    EXPECT_EQ(res->status, 404) << p;
    EXPECT_EQ(Json::parse(res->body)["status"], "error") << p;
  }
  // Bodies: too large, malformed JSON, JSON that is not an object, JSON with wrong types.
  auto res =
      client_->Post("/run_train", std::string(2 << 20, 'a'), "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  res = client_->Post("/del_task", "{\"task_ID\": ", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(Json::parse(res->body)["error"], "request body is not valid JSON");
  res = client_->Post("/del_task", "[1,2]", "application/json");
  EXPECT_EQ(Json::parse(res->body)["error"], "request body must be a JSON object");
  res = client_->Post("/del_task", R"({"task_ID": {"a": 1}})", "application/json");
  EXPECT_NE(Json::parse(res->body)["error"].get<std::string>().find("task_ID: expected a string"),
            std::string::npos);
  res = client_->Post("/change_devices", R"({"new_devices_IDs": [0, -1]})", "application/json");
  EXPECT_EQ(Json::parse(res->body)["status"], "success") << res->body;
  // Binary garbage instead of HTTP.
  {
    httplib::Client raw("127.0.0.1", server_->port());
    auto bad = raw.Get("/get_task_info", {{"Content-Length", "-5"}});
    ASSERT_TRUE(bad);
  }

  // Still up, and the queued task is intact.
  const Json info = get("/get_task_info");
  ASSERT_EQ(info["status"], "success");
  ASSERT_EQ(info["info"].size(), 1u);
  EXPECT_EQ(info["info"][0]["ID"], kept);
  EXPECT_EQ(info["info"][0]["status"], "Pending");
  const Json devices = get("/get_devices_info")["info"];
  ASSERT_EQ(devices.size(), 3u);  // the CPU and two simulated GPUs
  EXPECT_EQ(devices[0]["ID"], -1);
  EXPECT_EQ(devices[0]["type"], "CPU");
  EXPECT_EQ(devices[1]["total_memory"], 1000.0);
  EXPECT_EQ(devices[1]["allowed"], true);
}

TEST_F(ServerTest, AddPluginsAndNewProjWithPluginsListThemInTheProjectsConfig) {
  serve();
  const std::string project = project_root_->file("with_plugins");
  const auto plugins_config = [&] {
    auto text = Env::default_env()->read_file(path::join(project, "plugins_config.json"));
    return text.is_ok() ? Json::parse(*text) : Json();
  };
  // The original Python client's shape: a list of names becomes repeated fields.
  Json reply = post("/new_proj", httplib::Params{{"target_dir", project},
                                                 {"MNIST", "False"},
                                                 {"plugins", "LogInit"},
                                                 {"plugins", "SimpleCMDVisualize"}});
  ASSERT_EQ(reply["status"], "success") << reply;
  EXPECT_EQ(plugins_config()["plugins"], Json({"LogInit", "SimpleCMDVisualize"}));
  EXPECT_EQ(plugins_config()["plugins_config"]["LogInit"], Json({{"level", "INFO"}}));

  // Several names in one field, and `full`: every option of MailsNote.
  reply = post("/add_plugins", {{"target_dir", project},
                                {"plugins", "MailsNote AutoTensorboardScalar LogInit"},
                                {"full", "True"}});
  ASSERT_EQ(reply["status"], "success") << reply;
  EXPECT_EQ(reply["added"], Json({"MailsNote", "AutoTensorboardScalar"}));
  EXPECT_EQ(reply["already"], Json({"LogInit"}));
  EXPECT_EQ(plugins_config()["plugins_config"]["MailsNote"]["port"], 25);
  auto loaded = load_config(path::join(project, "root_config.json"));
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  EXPECT_EQ(loaded->args["plugins"],
            Json({"LogInit", "SimpleCMDVisualize", "MailsNote", "AutoTensorboardScalar"}));
  const std::string log = get("/get_DLNest_output")["text"].get<std::string>();
  EXPECT_NE(log.find("added MailsNote AutoTensorboardScalar in " +
                     path::join(project, "plugins_config.json")),
            std::string::npos)
      << log;

  const std::pair<httplib::Params, std::string> errors[] = {
      {{{"plugins", "LogInit"}}, "Missing argument target_dir"},
      {{{"target_dir", project_root_->file("nowhere")}, {"plugins", "LogInit"}},
       "target_dir " + project_root_->file("nowhere") + ": no such folder"},
      {{{"target_dir", project}, {"plugins", "../x"}},
       "plugins: \"../x\" is not a plugin name (a C++ class name)"},
      {{{"target_dir", project}}, "plugins: no plugin name given"},
      {{{"target_dir", project}, {"plugins", "LogInit"}, {"full", "maybe"}},
       "full: expected True or False"},
  };
  for (const auto& [params, message] : errors) {
    reply = post("/add_plugins", params);
    EXPECT_EQ(reply["status"], "error") << reply;
    EXPECT_NE(reply["error"].get<std::string>().find(message), std::string::npos) << reply;
  }
}

}  // namespace
}  // namespace dlnest
