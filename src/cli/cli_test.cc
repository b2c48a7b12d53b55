// The `dlnest` binary as a user runs it: usage errors, `dlnest exp` waiting for its script, and
// `continue` with changes, against a scripted HTTP server standing in for `dlnest server`.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include "dlnest/config.h"
#include "dlnest/env.h"
#include "testing/run_binary.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using CliRun = testing::BinaryRun;

/// Runs `dlnest args...` to its end.
CliRun run_dlnest(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {std::string(DLNEST_BIN_DIR) + "/dlnest"};
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::run_binary(argv);
}

TEST(CliTest, UsageErrorsSayDlnestErrorAndExitTwo) {
  const std::vector<std::vector<std::string>> bad = {
      {"run", "-c", "cfg.json", "--bogus"},
      {"run"},
      {"run", "-c", "cfg.json", "--gpu", "0"},
      {"continue", "-r", "pkg", "--foreground", "-d", "x"},
      {"analyze", "-r", "pkg", "--foreground"},
      {"package", "show"},
      {"no-such-command"},
  };
  for (const auto& args : bad) {
    const CliRun run = run_dlnest(args);
    EXPECT_EQ(run.exit_code, 2) << args[0] << ": " << run.err;
    EXPECT_EQ(run.err.rfind("dlnest: error: ", 0), 0u) << run.err;
  }
  EXPECT_EQ(run_dlnest({"--help"}).exit_code, 0);
}

/// A stand-in for `dlnest server`: an analysis task whose output grows as its script runs, and
/// a recorder of the /continue_train parameters.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<std::string> chunks) : chunks_(std::move(chunks)) {
    server_.Get("/get_task_output", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      // The script's output appears a chunk per read once the command was sent.
      if (sent_ && next_chunk_ < chunks_.size()) output_ += chunks_[next_chunk_++];
      const size_t from =
          req.has_param("offset") ? std::stoul(req.get_param_value("offset")) : output_.size();
      const std::string text = output_.substr(std::min(from, output_.size()));
      reply(res, {{"offset", from},
                  {"next_offset", from + text.size()},
                  {"text", text},
                  {"size", output_.size()}});
    });
    server_.Post("/run_exp", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      sent_ = true;
      reply(res, Json::object());
    });
    server_.Get("/get_task", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      reply(res, {{"info", {{"status", status_}, {"package_dir", "/saves/run_1"},
                            {"progress", progress_}}}});
    });
    server_.Post("/continue_train", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [name, value] : req.params) continue_params_.push_back(name + "=" + value);
      reply(res, {{"task_ID", "T_2"}, {"record_path", "/saves/run_1"}});
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~ScriptedServer() {
    server_.stop();
    thread_.join();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  void set_status(const std::string& status) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
  }
  void set_progress(const Json& progress) {
    std::lock_guard<std::mutex> lock(mu_);
    progress_ = progress;
  }
  std::vector<std::string> continue_params() {
    std::lock_guard<std::mutex> lock(mu_);
    return continue_params_;
  }

 private:
  static void reply(httplib::Response& res, Json fields) {
    fields["status"] = "success";
    res.set_content(fields.dump(), "application/json");
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> chunks_;
  size_t next_chunk_ = 0;
  std::string output_ = "[DLNest Analyze Process] Waiting for command...\n";
  bool sent_ = false;
  std::string status_ = "Running";
  Json progress_;
  std::vector<std::string> continue_params_;
};

TEST(CliTest, ExpPrintsItsScriptsOutputAndExitsByItsOutcome) {
  ScriptedServer ok({"[DLNest Analyze Process] running getAcc.cpp (compiled before)\nacc", "",
                     "uracy 0.9\n[DLNest Analyze Process] getAcc.cpp finished\nlater\n"});
  CliRun run = run_dlnest({"--server", ok.address(), "exp", "A_1", "getAcc"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out,
            "[DLNest Analyze Process] running getAcc.cpp (compiled before)\naccuracy 0.9\n"
            "[DLNest Analyze Process] getAcc.cpp finished\n");

  ScriptedServer failed({"[DLNest Analyze Process] [Error] boom.cpp: boom\n",
                         "[DLNest Analyze Process] boom.cpp failed\n"});
  run = run_dlnest({"--server", failed.address(), "exp", "A_1", "boom.cpp"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.out.find("boom.cpp failed"), std::string::npos) << run.out;

  ScriptedServer killed({"half of the output\n"});
  killed.set_status("Killed");
  run = run_dlnest({"--server", killed.address(), "exp", "A_1", "getAcc"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("A_1 Killed before getAcc ended"), std::string::npos) << run.err;
}

TEST(CliTest, OutputFollowShowsTheProgressAsAStatusLineAtATerminalOnly) {
  ScriptedServer server({});
  server.set_progress(Json::parse(R"({"stage": "train", "epoch": 2, "epochs": 10, "step": 45,
      "steps_per_epoch": 100, "it_per_s": 12.34, "eta_epoch_s": 4.5, "eta_run_s": 250})"));
  std::thread finish([&server] {
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    server.set_status("Finished");
  });
  // `script` gives the command a terminal.
  const std::string command = std::string(DLNEST_BIN_DIR) + "/dlnest --server " +
                              server.address() + " output -f T_1";
  CliRun tty = testing::run_binary({"/usr/bin/script", "-qfec", command, "/dev/null"});
  finish.join();
  EXPECT_EQ(tty.exit_code, 0) << tty.out << tty.err;
  EXPECT_NE(tty.out.find("\r\033[Kepoch 3/10 | 45/100 | 12.3 it/s | ETA 0:05 (run 4:10)"),
            std::string::npos)
      << tty.out;
  EXPECT_NE(tty.out.find("T_1 Finished"), std::string::npos) << tty.out;

  server.set_status("Finished");
  const CliRun piped = run_dlnest({"--server", server.address(), "output", "-f", "T_1"});
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.out, "") << "no status line when stdout is not a terminal";
}

TEST(CliTest, ContinueTakesATaskIdAndSendsTheChanges) {
  ScriptedServer server({});
  testing::TempDir dir;
  const std::string freq = dir.write("more.json", R"({"epochs": 9})");
  const CliRun run = run_dlnest({"--server", server.address(), "continue", "-r", "T_1", "-f", freq,
                                 "--set", "lr=1e-4", "--set", "optimizer.name=sgd", "--cpu"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("T_2"), std::string::npos);
  const std::vector<std::string> params = server.continue_params();
  auto has = [&](const std::string& p) {
    return std::find(params.begin(), params.end(), p) != params.end();
  };
  EXPECT_TRUE(has("record_path=/saves/run_1"));
  EXPECT_TRUE(has("freq_path=" + freq));
  EXPECT_TRUE(has("set=lr=1e-4"));
  EXPECT_TRUE(has("set=optimizer.name=sgd"));
  EXPECT_TRUE(has("CPU=True"));
}

TEST(CliTest, MemoryIsANumberOrAuto) {
  ScriptedServer server({});
  CliRun run = run_dlnest({"--server", server.address(), "continue", "-r", "T_1", "-m", "auto"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  const std::vector<std::string> params = server.continue_params();
  EXPECT_NE(std::find(params.begin(), params.end(), "memory_consumption=auto"), params.end());
  for (const char* bad : {"autox", "0", "12MB"}) {
    run = run_dlnest({"--server", server.address(), "continue", "-r", "T_1", "-m", bad});
    EXPECT_EQ(run.exit_code, 2) << bad;
    EXPECT_NE(run.err.find(std::string("-m takes a number of MB, -1 (the default) or auto; got '") +
                           bad + "'"),
              std::string::npos)
        << run.err;
  }
}

}  // namespace
}  // namespace dlnest
