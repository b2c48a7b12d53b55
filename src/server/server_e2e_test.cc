// End to end, with real processes only: `dlnest server` started and killed with SIGKILL, CPU
// trainings of the MNIST template on a small subset, a continue, a deletion mid-run, and an
// analysis task running the template's scripts and broken ones.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "dlnest/config.h"
#include "dlnest/env.h"
#include "dlnest/save_package.h"
#include "env/path.h"
#include "project/project_builder.h"
#include "server/server_process_test_util.h"
#include "supervisor/proc_stat.h"
#include "supervisor/supervisor.h"
#include "testing/temp_dir.h"

extern char** environ;

namespace dlnest {
namespace {

using testing::free_port;
using testing::ServerProcess;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

/// The processes of group `pgid` that still run. After a server restart the task's processes are
/// not its children: once they exit, reaping them is up to their new parent (init).
std::vector<int> live_members(int pgid) {
  std::vector<int> live;
  for (const ProcStat& p : list_group(pgid)) {
    if (!p.is_zombie()) live.push_back(p.pid);
  }
  return live;
}

class ServerE2eTest : public testing::ServerBinaryTest {
 protected:
  static void SetUpTestSuite() {
    root_ = new TempDir();
    project_ = root_->file("fmnist");
    ASSERT_TRUE(create_project(project_, /*mnist=*/true).is_ok());
    root_->write("tiny.json", R"({"train_subset": 1024, "test_subset": 256, "epochs": 2})");
    root_->write("long.json", R"({"train_subset": 256, "test_subset": 64, "epochs": 100000})");
  }
  static void TearDownTestSuite() {
    delete root_;
    root_ = nullptr;
  }

  std::string submit(const char* freq, const std::string& description) {
    const Json reply = call("POST", "/run_train",
                            {{"config_path", path::join(project_, "root_config.json")},
                             {"freq_path", root_->file(freq)},
                             {"description", description},
                             {"CPU", "True"}});
    EXPECT_EQ(reply.value("status", ""), "success") << reply;
    return reply.value("task_ID", "");
  }

  /// The analyzer output from offset 0 once it contains `marker` (or the timeout passed).
  std::string wait_output(const std::string& id, const std::string& marker,
                          double timeout_s = 180) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
    std::string text;
    while (Clock::now() < deadline) {
      text =
          call("GET", "/get_analyze_output", {{"task_ID", id}, {"max_bytes", "4000000"}})["text"];
      if (text.find(marker) != std::string::npos) return text;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "no \"" << marker << "\" in the output of " << id << ":\n" << text;
    return text;
  }

  static inline TempDir* root_ = nullptr;
  static inline std::string project_;
};

TEST_F(ServerE2eTest, TrainContinueDeleteAcrossAServerKill) {
  start_server();
  // Three trainings, the first builds the project.
  const std::string a = submit("tiny.json", "a");
  const std::string b = submit("tiny.json", "b");
  const std::string c = submit("long.json", "c");
  const Json c_running = wait_state(c, "Running");
  const int c_pid = c_running["pid"];
  // kill -9 of the server while tasks run: nothing is lost, the next server adopts what lives.
  server_->kill_hard();
  EXPECT_FALSE(process_group_members(c_pid).empty()) << "the training died with the server";
  start_server();
  EXPECT_NE(server_log().find("[Recover] " + c), std::string::npos) << server_log();
  const Json a_done = wait_state(a, "Finished");
  const Json b_done = wait_state(b, "Finished");
  EXPECT_EQ(task(c)["status"], "Running");
  EXPECT_EQ(task(c)["pid"], c_pid);
  // Delete the long one mid-run: Killed, and its process group is gone.
  EXPECT_EQ(call("POST", "/del_task", {{"task_ID", c}})["status"], "success");
  wait_state(c, "Killed", 30);
  EXPECT_TRUE(live_members(c_pid).empty());
  // The finished packages hold their checkpoints, metrics and output.
  for (const Json& done : {a_done, b_done}) {
    const std::string package = done["package_dir"];
    auto opened = SavePackage::open(package);
    ASSERT_TRUE(opened.is_ok()) << opened.status().message();
    EXPECT_TRUE(opened->checkpoint_path(-1).is_ok());
    auto metrics = Env::default_env()->read_file(path::join(package, "metrics.jsonl"));
    ASSERT_TRUE(metrics.is_ok());
    size_t epochs = 0;  // epoch records, one per epoch (step records come between them)
    for (size_t at = 0; (at = metrics->find(R"("kind":"epoch")", at)) != std::string::npos; ++at) {
      ++epochs;
    }
    EXPECT_EQ(epochs, 2u);
    EXPECT_NE(Env::default_env()
                  ->read_file(path::join(package, "_output.txt"))
                  ->find("[dlnest] finished"),
              std::string::npos);
  }
  // Continue one of them for two more epochs from its checkpoint after epoch 0.
  const std::string a_package = a_done["package_dir"];
  const Json cont = call("POST", "/continue_train",
                         {{"record_path", a_package}, {"checkpoint_ID", "-1"}, {"CPU", "True"}});
  ASSERT_EQ(cont["status"], "success") << cont;
  const Json cont_done = wait_state(cont["task_ID"], "Finished");
  EXPECT_EQ(cont_done["load_ckpt"], true);
  // A clean stop of the server, then a third server: the history is all there.
  EXPECT_EQ(WEXITSTATUS(server_->stop()), 0);
  start_server();
  const Json history = call("GET", "/get_task_history")["info"];
  std::map<std::string, std::string> states;
  for (const Json& t : history) states[t["ID"]] = t["status"];
  EXPECT_EQ(states[a], "Finished");
  EXPECT_EQ(states[b], "Finished");
  EXPECT_EQ(states[c], "Killed");
  EXPECT_EQ(states[cont["task_ID"]], "Finished");
  EXPECT_EQ(call("GET", "/get_task_info")["info"], Json::array());
}

TEST_F(ServerE2eTest, AnalyzerRunsScriptsReportsErrorsAndKeepsGoing) {
  start_server();
  const std::string trained = submit("tiny.json", "for analysis");
  const std::string package = wait_state(trained, "Finished")["package_dir"];
  // Scripts the user adds to the package's AnalyzeScripts.
  const std::string scripts = path::join(package, "AnalyzeScripts");
  Env* env = Env::default_env();
  ASSERT_TRUE(write_file_atomically(env, path::join(scripts, "broken.cpp"),
                                    "#include <dlnest/experiment.h>\nvoid f(dlnest::Experiment& e) "
                                    "{ e.nope(); }\nDLNEST_EXPERIMENT(f)\n")
                  .is_ok());
  ASSERT_TRUE(
      write_file_atomically(
          env, path::join(scripts, "throws.cpp"),
          "#include <dlnest/experiment.h>\n#include <stdexcept>\n"
          "void f(dlnest::Experiment&) { throw std::runtime_error(\"boom from a script\"); }\n"
          "DLNEST_EXPERIMENT(f)\n")
          .is_ok());
  const Json started = call("POST", "/analyze", {{"record_path", package}, {"CPU", "True"}});
  ASSERT_EQ(started["status"], "success") << started;
  const std::string id = started["task_ID"];
  EXPECT_EQ(id.rfind("A_", 0), 0u);
  const int pid = wait_state(id, "Running")["pid"];
  wait_output(id, "Waiting for command...");

  // Pollers read the output with offsets while scripts run; each must see it exactly once.
  std::atomic<bool> stop{false};
  std::vector<std::string> seen(3);
  std::vector<std::thread> pollers;
  for (int i = 0; i < 3; ++i) {
    pollers.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", port_);
      int64_t offset = 0;
      while (!stop) {
        auto res = c.Get("/get_analyze_output",
                         {{"task_ID", id}, {"offset", std::to_string(offset)}, {"max_bytes", "97"}},
                         httplib::Headers{});
        if (res) {
          const Json r = Json::parse(res->body);
          if (r["status"] == "success") {
            EXPECT_EQ(r["offset"], offset);
            seen[i] += r["text"].get<std::string>();
            offset = r["next_offset"];
          }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(7 * (i + 1)));
      }
    });
  }

  auto run_exp = [&](const std::string& command) {
    return call("POST", "/run_exp", {{"task_ID", id}, {"command", command}});
  };
  const auto compile_start = Clock::now();
  ASSERT_EQ(run_exp("getAcc")["status"], "success");
  std::string text = wait_output(id, "test accuracy:");
  const double first = std::chrono::duration<double>(Clock::now() - compile_start).count();
  EXPECT_NE(text.find("compiled getAcc.cpp in"), std::string::npos) << text;
  const auto second_start = Clock::now();
  ASSERT_EQ(run_exp("getAcc")["status"], "success");
  text = wait_output(id, "running getAcc.cpp (compiled before)");
  const double second = std::chrono::duration<double>(Clock::now() - second_start).count();
  std::cout << "getAcc: first run (compile) " << first << " s, second run (cached) " << second
            << " s\n";
  // A broken script: the compiler's message; a throwing one: the exception. The analyzer goes on.
  ASSERT_EQ(run_exp("broken")["status"], "success");
  text = wait_output(id, "broken.cpp does not compile");
  EXPECT_NE(text.find("nope"), std::string::npos) << text;
  ASSERT_EQ(run_exp("throws")["status"], "success");
  text = wait_output(id, "boom from a script");
  // Names that are not plain file names are refused, and so are missing scripts.
  for (const char* bad : {"../getAcc", "/etc/passwd", "..", ".hidden", "a/b"}) {
    const Json r = run_exp(bad);
    EXPECT_EQ(r["status"], "error") << bad;
    EXPECT_NE(r.value("error", "").find("is not a plain file name"), std::string::npos) << r;
  }
  const Json missing = run_exp("noSuchScript");
  EXPECT_EQ(missing["status"], "error");
  EXPECT_NE(missing.value("error", "").find("no script"), std::string::npos) << missing;
  // Still working after all that.
  ASSERT_EQ(run_exp("showModel")["status"], "success");
  text = wait_output(id, "MNISTCNN");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  for (std::thread& t : pollers) t.join();
  const std::string all =
      call("GET", "/get_analyze_output", {{"task_ID", id}, {"max_bytes", "4000000"}})["text"];
  for (const std::string& s : seen) EXPECT_EQ(s, all.substr(0, s.size()));
  for (const std::string& s : seen) EXPECT_GT(s.size(), all.size() / 2);

  EXPECT_EQ(call("POST", "/del_task", {{"task_ID", id}})["status"], "success");
  wait_state(id, "Killed", 30);
  EXPECT_TRUE(process_group_members(pid).empty());
}

}  // namespace
}  // namespace dlnest
