// The real `dlnest server`, killed with SIGKILL at random instants: while it starts tasks (never
// two workers for one task), right after it answered a delete (never undone), and with a package
// crafted to wedge it (a FIFO as the output file). Real workers train the empty template.
#include <dirent.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <thread>

#include "dlnest/config.h"
#include "dlnest/env.h"
#include "dlnest/save_package.h"
#include "env/path.h"
#include "project/project_builder.h"
#include "server/server_process_test_util.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using testing::free_port;
using testing::ServerProcess;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

/// The live processes whose environment says they run task `id` (a worker gets it at exec; a
/// process held before exec, or a zombie, shows none).
std::vector<int> task_processes(const std::string& id) {
  const std::string needle = std::string("DLNEST_TASK_ID=") + id + '\0';
  std::vector<int> pids;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* entry = ::readdir(proc)) {
    const int pid = std::atoi(entry->d_name);
    if (pid <= 0) continue;
    std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
    const std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (env.find(needle) != std::string::npos) pids.push_back(pid);
  }
  ::closedir(proc);
  return pids;
}

class ServerCrashTest : public testing::ServerBinaryTest {
 protected:
  /// A package of the empty template with a checkpoint, made once by a real server.
  static void SetUpTestSuite() {
    root_ = new TempDir();
    project_ = root_->file("proj");
    ASSERT_TRUE(create_project(project_, /*mnist=*/false).is_ok());
    root_->write("long.json", R"({"epochs": 100000})");
  }
  static void TearDownTestSuite() {
    delete root_;
    root_ = nullptr;
  }

  void TearDown() override {
    if (server_ != nullptr) server_->kill_hard();
    for (const std::string& id : ids_) {
      for (int pid : task_processes(id)) ::kill(pid, SIGKILL);
    }
  }

  /// Waits until no process of task `id` is left.
  void wait_no_process(const std::string& id, double timeout_s = 30) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
    while (Clock::now() < deadline && !task_processes(id).empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(task_processes(id).empty()) << id << " left processes behind";
  }

  /// A package of a CPU training that has saved a checkpoint (trained, then deleted).
  std::string trained_package() {
    start_server();
    client_->set_read_timeout(600, 0);  // room for a server that builds before it answers
    const Json reply = call("POST", "/run_train",
                            {{"config_path", path::join(project_, "root_config.json")},
                             {"freq_path", root_->file("long.json")},
                             {"CPU", "True"}});
    EXPECT_EQ(reply.value("status", ""), "success") << reply;
    const std::string id = reply.value("task_ID", "");
    ids_.push_back(id);
    const std::string package = wait_state(id, "Running", 600).value("package_dir", "");
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (Clock::now() < deadline) {
      auto opened = SavePackage::open(package);
      if (opened.is_ok() && opened->checkpoint_path(-1).is_ok()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(call("POST", "/del_task", {{"task_ID", id}}).value("status", ""), "success");
    wait_state(id, "Killed");
    wait_no_process(id);
    client_->set_read_timeout(30, 0);
    return package;
  }

  std::string continue_task(const std::string& package, int max_restarts = 0) {
    const Json reply = call("POST", "/continue_train",
                            {{"record_path", package},
                             {"CPU", "True"},
                             {"max_restarts", std::to_string(max_restarts)}});
    EXPECT_EQ(reply.value("status", ""), "success") << reply;
    const std::string id = reply.value("task_ID", "");
    ids_.push_back(id);
    return id;
  }

  static inline TempDir* root_ = nullptr;
  static inline std::string project_;
  std::vector<std::string> ids_;
};

TEST_F(ServerCrashTest, AServerKilledWhileStartingATaskLeavesOneWorkerOrNone) {
  const std::string package = trained_package();
  std::mt19937 random(7);
  for (int round = 0; round < 50; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string id = continue_task(package);
    std::this_thread::sleep_for(std::chrono::microseconds(random() % 20000));
    server_->kill_hard();
    EXPECT_LE(task_processes(id).size(), 1u);
    start_server();
    wait_state(id, "Running");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // room for a second worker
    EXPECT_EQ(task_processes(id).size(), 1u) << server_log();
    EXPECT_EQ(task(id).value("pid", 0), task_processes(id).empty() ? -1 : task_processes(id)[0]);
    EXPECT_EQ(call("POST", "/del_task", {{"task_ID", id}}).value("status", ""), "success");
    wait_state(id, "Killed");
    wait_no_process(id);
    if (HasFailure()) return;
  }
}

TEST_F(ServerCrashTest, AnAnsweredDeleteIsNotUndoneByAServerKill) {
  const std::string package = trained_package();
  std::mt19937 random(11);
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string id = continue_task(package, /*max_restarts=*/3);
    wait_state(id, "Running");
    std::this_thread::sleep_for(std::chrono::milliseconds(random() % 300));
    EXPECT_EQ(call("POST", "/del_task", {{"task_ID", id}}).value("status", ""), "success");
    server_->kill_hard();
    start_server();
    const Json info = wait_state(id, "Killed", 60);
    EXPECT_EQ(info.value("restarts", -1), 0);
    wait_no_process(id);
    if (HasFailure()) return;
  }
}

TEST_F(ServerCrashTest, TheFirstSubmitOfAProjectAnswersBeforeItsBuild) {
  start_server();
  client_->set_read_timeout(600, 0);
  const std::string project = root_->file("unbuilt");
  ASSERT_TRUE(create_project(project, /*mnist=*/false).is_ok());
  const auto before = Clock::now();
  const Json reply = call("POST", "/run_train",
                          {{"config_path", path::join(project, "root_config.json")},
                           {"freq_path", root_->file("long.json")},
                           {"CPU", "True"}});
  const double answered_s = std::chrono::duration<double>(Clock::now() - before).count();
  ASSERT_EQ(reply.value("status", ""), "success") << reply;
  ids_.push_back(reply.value("task_ID", ""));
  // A cold build of the template takes tens of seconds here; the answer must not wait for it.
  EXPECT_LT(answered_s, 2.0);
  // Meanwhile the server answers everything else.
  const auto info_before = Clock::now();
  EXPECT_EQ(call("GET", "/get_task_info").value("status", ""), "success");
  EXPECT_LT(Clock::now() - info_before, std::chrono::seconds(1));
}

TEST_F(ServerCrashTest, APackageWithAFifoAsOutputFailsAloneAndTheServerKeepsAnswering) {
  const std::string package = trained_package();
  const std::string crafted = root_->file("crafted");
  ASSERT_EQ(std::system(("cp -a '" + package + "' '" + crafted + "'").c_str()), 0);
  const std::string output = path::join(crafted, "_output.txt");
  ASSERT_EQ(::unlink(output.c_str()), 0);
  ASSERT_EQ(::mkfifo(output.c_str(), 0644), 0);
  const std::string id = continue_task(crafted);
  const Json info = wait_state(id, "Failed", 30);
  EXPECT_NE(info.value("error", "").find("_output.txt"), std::string::npos) << info;
  EXPECT_NE(info.value("error", "").find("not a regular file"), std::string::npos) << info;
  EXPECT_EQ(call("GET", "/get_server_info").value("status", ""), "success");
  // A restarted server is not wedged either, and stops on SIGTERM.
  server_->kill_hard();
  start_server();
  EXPECT_EQ(task(id).value("status", ""), "Failed");
  EXPECT_EQ(call("GET", "/get_task_output", {{"task_ID", id}}).value("status", ""), "error");
  const auto before = Clock::now();
  server_->stop();
  EXPECT_LT(Clock::now() - before, std::chrono::seconds(10));
}

}  // namespace
}  // namespace dlnest
