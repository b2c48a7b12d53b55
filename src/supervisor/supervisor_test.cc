#include "supervisor/supervisor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "supervisor/proc_stat.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using std::chrono::milliseconds;

constexpr double kFastGrace = 0.2;

/// Collects the exit callbacks.
class ExitLog {
 public:
  Supervisor::ExitCallback callback() {
    return [this](const std::string& task_id, const ExitInfo& exit) {
      std::lock_guard<std::mutex> lock(mu_);
      exits_.emplace_back(task_id, exit);
      cv_.notify_all();
    };
  }

  /// The first exit of `task_id`, waiting up to 10 s for it.
  std::optional<ExitInfo> wait_for(const std::string& task_id) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<ExitInfo> found;
    cv_.wait_for(lock, std::chrono::seconds(10), [&] {
      for (const auto& [id, exit] : exits_) {
        if (id == task_id) found = exit;
      }
      return found.has_value();
    });
    return found;
  }

  int count(const std::string& task_id) {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& entry : exits_) n += entry.first == task_id ? 1 : 0;
    return n;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, ExitInfo>> exits_;
};

SpawnSpec shell(const std::string& script, const std::string& output_path = "") {
  SpawnSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.output_path = output_path;
  return spec;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Waits up to 5 s until `predicate` holds.
template <typename Predicate>
bool eventually(Predicate predicate) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

bool file_contains(const std::string& path, const std::string& text) {
  return read_text(path).find(text) != std::string::npos;
}

/// Processes whose parent is this test: unreaped zombies or anything left running.
std::vector<int> children_of_this_process() {
  std::vector<int> pids;
  for (const ProcStat& p : list_processes()) {
    if (p.ppid == ::getpid()) pids.push_back(p.pid);
  }
  return pids;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Three subshells with two sleeps each: a leader with children and grandchildren, like ranks
// of a distributed training and their loader processes.
const char kDdpScript[] =
    "for i in 1 2 3; do (sleep 100 & sleep 100 & wait) & done; echo ready; wait";
constexpr size_t kDdpProcesses = 1 + 3 + 6;

class SupervisorTest : public ::testing::Test {
 protected:
  void TearDown() override { EXPECT_TRUE(children_of_this_process().empty()); }

  testing::TempDir dir_;
  ExitLog log_;
};

TEST_F(SupervisorTest, ReportsTheExitCode) {
  Supervisor supervisor(log_.callback());
  Result<ProcessHandle> handle = supervisor.spawn("T_1", shell("exit 7"));
  ASSERT_TRUE(handle.is_ok()) << handle.status().to_string();
  EXPECT_GT(handle->pid, 0);
  EXPECT_GT(handle->start_ticks, 0u);
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 7);
  EXPECT_EQ(exit->signal, 0);
  EXPECT_FALSE(exit->terminated);
  EXPECT_EQ(exit->detail, "exited with code 7");
  EXPECT_FALSE(supervisor.is_running("T_1"));
  EXPECT_EQ(supervisor.terminate("T_1").code(), Status::Code::kNotFound);
}

TEST_F(SupervisorTest, ReportsTheSignalThatKilledTheLeader) {
  Supervisor supervisor(log_.callback());
  ASSERT_TRUE(supervisor.spawn("T_1", shell("kill -KILL $$")).is_ok());
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->signal, SIGKILL);
  EXPECT_EQ(exit->exit_code, 128 + SIGKILL);
  EXPECT_EQ(exit->detail, "killed by SIGKILL");
}

TEST_F(SupervisorTest, AppendsOutputAndAppliesEnvAndFolder) {
  const std::string output = dir_.write("out.txt", "earlier\n");
  dir_.write("work/marker", "");  // creates the folder
  SpawnSpec spec =
      shell("echo out; echo err >&2; echo $DLNEST_X $HOME; pwd; read line || echo eof", output);
  spec.env = {{"DLNEST_X", "x-value"}, {"HOME", "/replaced"}};
  spec.cwd = dir_.file("work");
  Supervisor supervisor(log_.callback());
  ASSERT_TRUE(supervisor.spawn("T_1", spec).is_ok());
  ASSERT_TRUE(log_.wait_for("T_1"));
  EXPECT_EQ(read_text(output),
            "earlier\nout\nerr\nx-value /replaced\n" + dir_.file("work") + "\neof\n");
}

TEST_F(SupervisorTest, NamesAProgramThatCannotStart) {
  Supervisor supervisor(log_.callback());
  SpawnSpec missing;
  missing.argv = {"/no/such/program"};
  Result<ProcessHandle> handle = supervisor.spawn("T_1", missing);
  ASSERT_FALSE(handle.is_ok());
  EXPECT_EQ(handle.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(handle.status().message(), "cannot start /no/such/program: No such file or directory");
  EXPECT_FALSE(supervisor.is_running("T_1"));

  SpawnSpec spec = shell("true");
  spec.cwd = dir_.file("missing");
  handle = supervisor.spawn("T_2", spec);
  ASSERT_FALSE(handle.is_ok());
  EXPECT_EQ(handle.status().message(), "cannot start /bin/sh: cannot enter folder " +
                                           dir_.file("missing") + ": No such file or directory");
  EXPECT_EQ(supervisor.spawn("T_3", SpawnSpec{}).status().code(), Status::Code::kInvalidArgument);
}

TEST_F(SupervisorTest, RefusesATaskIdAlreadySupervised) {
  Supervisor supervisor(log_.callback());
  ASSERT_TRUE(supervisor.spawn("T_1", shell("exec sleep 100")).is_ok());
  EXPECT_EQ(supervisor.spawn("T_1", shell("true")).status().code(), Status::Code::kAlreadyExists);
}

TEST_F(SupervisorTest, ChildInheritsNoDescriptorAboveStderr) {
  const int leaked = ::open("/dev/null", O_RDONLY);  // deliberately not close-on-exec
  ASSERT_GT(leaked, 2);
  const std::string output = dir_.file("fds.txt");
  Supervisor supervisor(log_.callback());
  ASSERT_TRUE(supervisor.spawn("T_1", shell("ls /proc/$$/fd", output)).is_ok());
  ASSERT_TRUE(log_.wait_for("T_1"));
  ::close(leaked);
  EXPECT_EQ(read_text(output), "0\n1\n2\n");
}

TEST_F(SupervisorTest, TerminateEndsAProcessThatExitsOnSigint) {
  Supervisor supervisor(log_.callback());
  ASSERT_TRUE(supervisor.spawn("T_1", shell("exec sleep 100")).is_ok());
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(supervisor.terminate("T_1").is_ok());
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_LT(seconds_since(start), 1.0);
  EXPECT_TRUE(exit->terminated);
  EXPECT_EQ(exit->signal, SIGINT);
  EXPECT_EQ(exit->exit_code, 128 + SIGINT);
  EXPECT_EQ(exit->detail, "terminated by SIGINT");
}

TEST_F(SupervisorTest, TerminateSendsSigtermWhenSigintIsIgnored) {
  const std::string output = dir_.file("out.txt");
  Supervisor supervisor(log_.callback(), {kFastGrace, kFastGrace});
  ASSERT_TRUE(
      supervisor
          .spawn("T_1", shell("trap '' INT; echo ready; while :; do sleep 0.05; done", output))
          .is_ok());
  ASSERT_TRUE(eventually([&] { return file_contains(output, "ready"); }));
  ASSERT_TRUE(supervisor.terminate("T_1").is_ok());
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->terminated);
  EXPECT_EQ(exit->signal, SIGTERM);
  EXPECT_EQ(exit->detail, "terminated by SIGTERM after 0.2 s grace");
}

TEST_F(SupervisorTest, TerminateKillsWhatIgnoresSigintAndSigterm) {
  const std::string output = dir_.file("out.txt");
  Supervisor supervisor(log_.callback(), {kFastGrace, kFastGrace});
  const std::string script = "trap '' INT TERM; echo ready; while :; do sleep 0.05; done";
  ASSERT_TRUE(supervisor.spawn("T_1", shell(script, output)).is_ok());
  ASSERT_TRUE(eventually([&] { return file_contains(output, "ready"); }));
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(supervisor.terminate("T_1").is_ok());
  ASSERT_TRUE(supervisor.terminate("T_1").is_ok());  // a second request changes nothing
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_GE(seconds_since(start), 2 * kFastGrace);
  EXPECT_TRUE(exit->terminated);
  EXPECT_EQ(exit->signal, SIGKILL);
  EXPECT_EQ(exit->detail, "killed by SIGKILL after 0.4 s grace");
}

TEST_F(SupervisorTest, TerminateEndsEveryProcessOfTheGroup) {
  const std::string output = dir_.file("out.txt");
  Supervisor supervisor(log_.callback());
  Result<ProcessHandle> handle = supervisor.spawn("T_1", shell(kDdpScript, output));
  ASSERT_TRUE(handle.is_ok());
  ASSERT_TRUE(eventually([&] { return supervisor.group_members("T_1").size() == kDdpProcesses; }));
  ASSERT_TRUE(supervisor.terminate("T_1").is_ok());
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->terminated);
  EXPECT_TRUE(process_group_members(handle->pid).empty());
  EXPECT_TRUE(supervisor.group_members("T_1").empty());
}

TEST_F(SupervisorTest, KillsWhatTheLeaderLeavesBehind) {
  Supervisor supervisor(log_.callback());
  Result<ProcessHandle> handle =
      supervisor.spawn("T_1", shell("sleep 100 & (sleep 100 & sleep 100 & wait) & exit 3"));
  ASSERT_TRUE(handle.is_ok());
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_FALSE(exit->terminated);
  EXPECT_TRUE(process_group_members(handle->pid).empty());
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(log_.count("T_1"), 1);
}

TEST_F(SupervisorTest, FiftySubmitTerminateCyclesLeaveNothingBehind) {
  std::vector<int> groups;
  {
    Supervisor supervisor(log_.callback());
    for (int i = 0; i < 50; ++i) {
      const std::string id = "T_" + std::to_string(i);
      Result<ProcessHandle> handle =
          supervisor.spawn(id, shell("(sleep 100 & sleep 100 & wait) & sleep 100 & wait"));
      ASSERT_TRUE(handle.is_ok()) << handle.status().to_string();
      groups.push_back(handle->pid);
      ASSERT_TRUE(eventually([&] { return supervisor.group_members(id).size() >= 4; }));
      ASSERT_TRUE(supervisor.terminate(id).is_ok());
      ASSERT_TRUE(log_.wait_for(id)) << id;
      EXPECT_FALSE(supervisor.is_running(id));
    }
  }
  for (int pgid : groups) EXPECT_TRUE(process_group_members(pgid).empty()) << pgid;
}

TEST_F(SupervisorTest, DestructorEndsWhatIsStillRunning) {
  int pgid = 0;
  {
    Supervisor supervisor(log_.callback(), {kFastGrace, kFastGrace});
    Result<ProcessHandle> handle =
        supervisor.spawn("T_1", shell("trap '' INT TERM; " + std::string(kDdpScript)));
    ASSERT_TRUE(handle.is_ok());
    pgid = handle->pid;
    ASSERT_TRUE(
        eventually([&] { return supervisor.group_members("T_1").size() == kDdpProcesses; }));
  }
  EXPECT_EQ(log_.count("T_1"), 1);
  EXPECT_TRUE(process_group_members(pgid).empty());
}

TEST_F(SupervisorTest, AdoptedTaskIsTerminatedLikeAnOwnOne) {
  const std::string output = dir_.file("out.txt");
  Result<ProcessHandle> handle = Status::not_found("not started");
  {
    Supervisor earlier(log_.callback());
    handle = earlier.spawn("T_1", shell(kDdpScript, output));
    ASSERT_TRUE(handle.is_ok());
    ASSERT_TRUE(eventually([&] { return earlier.group_members("T_1").size() == kDdpProcesses; }));
    earlier.detach();
    EXPECT_FALSE(earlier.is_running("T_1"));
  }
  EXPECT_EQ(process_group_members(handle->pid).size(), kDdpProcesses);
  EXPECT_EQ(log_.count("T_1"), 0);

  Supervisor supervisor(log_.callback());
  ASSERT_TRUE(supervisor.adopt("T_1", *handle, dir_.file("exit")).is_ok());
  EXPECT_TRUE(supervisor.is_running("T_1"));
  EXPECT_EQ(supervisor.adopt("T_1", *handle, "").code(), Status::Code::kAlreadyExists);
  ASSERT_TRUE(supervisor.terminate("T_1").is_ok());
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->terminated);
  EXPECT_EQ(exit->detail, "terminated by SIGINT");
  EXPECT_TRUE(process_group_members(handle->pid).empty());
}

/// Starts, from a task of `starter`, a process in a session of its own whose parent is not
/// this test; it runs `script` once the file "go" exists. Returns the process.
ProcessHandle start_stranger(Supervisor* starter, const testing::TempDir& dir,
                             const std::string& script) {
  const std::string inner =
      "echo $$ > pid.tmp && mv pid.tmp pid; "
      "while [ ! -e go ]; do sleep 0.01; done; " +
      script;
  SpawnSpec spec = shell("setsid /bin/sh -c '" + inner + "' & wait");
  spec.cwd = dir.path();
  EXPECT_TRUE(starter->spawn("starter", spec).is_ok());
  EXPECT_TRUE(eventually([&] { return !read_text(dir.file("pid")).empty(); }));
  ProcessHandle process;
  process.pid = std::stoi(read_text(dir.file("pid")));
  const std::optional<ProcStat> stat = read_proc_stat(process.pid);
  EXPECT_TRUE(stat);
  if (stat) process.start_ticks = stat->start_ticks;
  return process;
}

TEST_F(SupervisorTest, AdoptedTaskReportsTheCodeOfItsExitFile) {
  Supervisor starter(log_.callback());
  const ProcessHandle process = start_stranger(&starter, dir_, "echo 5 > exit; exit 5");
  Supervisor supervisor(log_.callback());
  ASSERT_TRUE(supervisor.adopt("T_1", process, dir_.file("exit")).is_ok());
  dir_.write("go", "");
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 5);
  EXPECT_FALSE(exit->terminated);
  EXPECT_EQ(exit->detail, "exited with code 5");
  EXPECT_TRUE(log_.wait_for("starter"));
}

TEST_F(SupervisorTest, AdoptedTaskWithoutExitFileHasAnUnknownCode) {
  Supervisor starter(log_.callback());
  const ProcessHandle process = start_stranger(&starter, dir_, "exit 5");
  Supervisor supervisor(log_.callback());
  ASSERT_TRUE(supervisor.adopt("T_1", process, dir_.file("exit")).is_ok());
  dir_.write("go", "");
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_FALSE(exit->exit_code);
  EXPECT_EQ(exit->detail, "exit code unknown");
  EXPECT_TRUE(log_.wait_for("starter"));
}

TEST_F(SupervisorTest, AdoptChecksThePidAndItsStartTicks) {
  Supervisor supervisor(log_.callback());
  Result<ProcessHandle> handle = supervisor.spawn("T_1", shell("exec sleep 100"));
  ASSERT_TRUE(handle.is_ok());
  Supervisor other(log_.callback());
  ProcessHandle wrong = *handle;
  wrong.start_ticks += 1;
  EXPECT_EQ(other.adopt("T_2", wrong, "").code(), Status::Code::kNotFound);
  EXPECT_EQ(other.adopt("T_2", {0, 0}, "").code(), Status::Code::kNotFound);
  EXPECT_FALSE(other.is_running("T_2"));
}

}  // namespace
}  // namespace dlnest
