#include "supervisor/supervisor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <future>
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

/// A Supervisor whose exits go to `log`.
class LoggedSupervisor : public Supervisor {
 public:
  explicit LoggedSupervisor(ExitLog* log, TerminateOptions options = {}) : Supervisor(options) {
    on_exit(log->callback());
  }
};

/// spawn() and release(): the program runs.
Result<ProcessHandle> start_task(Supervisor* supervisor, const std::string& task_id,
                                 const SpawnSpec& spec) {
  Result<ProcessHandle> handle = supervisor->spawn(task_id, spec);
  if (!handle.is_ok()) return handle;
  DLNEST_RETURN_IF_ERROR(supervisor->release(task_id));
  return handle;
}

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

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

/// Reaps `pid`, a child of this process, waiting up to 5 s: its wait status; nullopt when it
/// did not end (it is killed and reaped then).
std::optional<int> reap_within_5s(int pid) {
  int status = 0;
  if (eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; })) return status;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return std::nullopt;
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
  LoggedSupervisor supervisor(&log_);
  Result<ProcessHandle> handle = start_task(&supervisor, "T_1", shell("exit 7"));
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
  LoggedSupervisor supervisor(&log_);
  ASSERT_TRUE(start_task(&supervisor, "T_1", shell("kill -KILL $$")).is_ok());
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
  LoggedSupervisor supervisor(&log_);
  ASSERT_TRUE(start_task(&supervisor, "T_1", spec).is_ok());
  ASSERT_TRUE(log_.wait_for("T_1"));
  EXPECT_EQ(read_text(output),
            "earlier\nout\nerr\nx-value /replaced\n" + dir_.file("work") + "\neof\n");
}

TEST_F(SupervisorTest, NamesAProgramThatCannotStart) {
  LoggedSupervisor supervisor(&log_);
  SpawnSpec missing;
  missing.argv = {"/no/such/program"};
  ASSERT_TRUE(supervisor.spawn("T_1", missing).is_ok());
  const Status released = supervisor.release("T_1");
  EXPECT_EQ(released.code(), Status::Code::kNotFound);
  EXPECT_EQ(released.message(), "cannot start /no/such/program: No such file or directory");
  std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 127);
  EXPECT_FALSE(exit->terminated);
  EXPECT_FALSE(exit->never_started());
  EXPECT_EQ(exit->detail, released.message());
  EXPECT_FALSE(supervisor.is_running("T_1"));

  SpawnSpec spec = shell("true");
  spec.cwd = dir_.file("missing");
  Result<ProcessHandle> handle = start_task(&supervisor, "T_2", spec);
  ASSERT_FALSE(handle.is_ok());
  EXPECT_EQ(handle.status().message(), "cannot start /bin/sh: cannot enter folder " +
                                           dir_.file("missing") + ": No such file or directory");
  exit = log_.wait_for("T_2");
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 127);
  EXPECT_EQ(exit->detail, handle.status().message());
  EXPECT_EQ(supervisor.spawn("T_3", SpawnSpec{}).status().code(), Status::Code::kInvalidArgument);
  EXPECT_FALSE(supervisor.is_running("T_3"));
}

TEST_F(SupervisorTest, RefusesATaskIdAlreadySupervised) {
  LoggedSupervisor supervisor(&log_);
  ASSERT_TRUE(start_task(&supervisor, "T_1", shell("exec sleep 100")).is_ok());
  EXPECT_EQ(start_task(&supervisor, "T_1", shell("true")).status().code(),
            Status::Code::kAlreadyExists);
}

TEST_F(SupervisorTest, ChildInheritsNoDescriptorAboveStderr) {
  const int leaked = ::open("/dev/null", O_RDONLY);  // deliberately not close-on-exec
  ASSERT_GT(leaked, 2);
  const std::string output = dir_.file("fds.txt");
  LoggedSupervisor supervisor(&log_);
  ASSERT_TRUE(start_task(&supervisor, "T_1", shell("ls /proc/$$/fd", output)).is_ok());
  ASSERT_TRUE(log_.wait_for("T_1"));
  ::close(leaked);
  EXPECT_EQ(read_text(output), "0\n1\n2\n");
}

TEST_F(SupervisorTest, TerminateEndsAProcessThatExitsOnSigint) {
  LoggedSupervisor supervisor(&log_);
  ASSERT_TRUE(start_task(&supervisor, "T_1", shell("exec sleep 100")).is_ok());
  const auto begin = std::chrono::steady_clock::now();
  ASSERT_TRUE(supervisor.terminate("T_1").is_ok());
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_LT(seconds_since(begin), 1.0);
  EXPECT_TRUE(exit->terminated);
  EXPECT_EQ(exit->signal, SIGINT);
  EXPECT_EQ(exit->exit_code, 128 + SIGINT);
  EXPECT_EQ(exit->detail, "terminated by SIGINT");
}

TEST_F(SupervisorTest, TerminateSendsSigtermWhenSigintIsIgnored) {
  const std::string output = dir_.file("out.txt");
  LoggedSupervisor supervisor(&log_, {kFastGrace, kFastGrace});
  const std::string script = "trap '' INT; echo ready; while :; do sleep 0.05; done";
  ASSERT_TRUE(start_task(&supervisor, "T_1", shell(script, output)).is_ok());
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
  LoggedSupervisor supervisor(&log_, {kFastGrace, kFastGrace});
  const std::string script = "trap '' INT TERM; echo ready; while :; do sleep 0.05; done";
  ASSERT_TRUE(start_task(&supervisor, "T_1", shell(script, output)).is_ok());
  ASSERT_TRUE(eventually([&] { return file_contains(output, "ready"); }));
  const auto begin = std::chrono::steady_clock::now();
  ASSERT_TRUE(supervisor.terminate("T_1").is_ok());
  ASSERT_TRUE(supervisor.terminate("T_1").is_ok());  // a second request changes nothing
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_GE(seconds_since(begin), 2 * kFastGrace);
  EXPECT_TRUE(exit->terminated);
  EXPECT_EQ(exit->signal, SIGKILL);
  EXPECT_EQ(exit->detail, "killed by SIGKILL after 0.4 s grace");
}

TEST_F(SupervisorTest, TerminateEndsEveryProcessOfTheGroup) {
  const std::string output = dir_.file("out.txt");
  LoggedSupervisor supervisor(&log_);
  Result<ProcessHandle> handle = start_task(&supervisor, "T_1", shell(kDdpScript, output));
  ASSERT_TRUE(handle.is_ok());
  ASSERT_TRUE(eventually([&] { return supervisor.task_pids("T_1").size() == kDdpProcesses; }));
  ASSERT_TRUE(supervisor.terminate("T_1").is_ok());
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->terminated);
  EXPECT_TRUE(list_session(handle->pid).empty());
  EXPECT_TRUE(supervisor.task_pids("T_1").empty());
}

TEST_F(SupervisorTest, KillsWhatTheLeaderLeavesBehind) {
  LoggedSupervisor supervisor(&log_);
  Result<ProcessHandle> handle =
      start_task(&supervisor, "T_1", shell("sleep 100 & (sleep 100 & sleep 100 & wait) & exit 3"));
  ASSERT_TRUE(handle.is_ok());
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_FALSE(exit->terminated);
  EXPECT_TRUE(list_session(handle->pid).empty());
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(log_.count("T_1"), 1);
}

TEST_F(SupervisorTest, FiftySubmitTerminateCyclesLeaveNothingBehind) {
  std::vector<int> sessions;
  {
    LoggedSupervisor supervisor(&log_);
    for (int i = 0; i < 50; ++i) {
      const std::string id = "T_" + std::to_string(i);
      Result<ProcessHandle> handle =
          start_task(&supervisor, id, shell("(sleep 100 & sleep 100 & wait) & sleep 100 & wait"));
      ASSERT_TRUE(handle.is_ok()) << handle.status().to_string();
      sessions.push_back(handle->pid);
      ASSERT_TRUE(eventually([&] { return supervisor.task_pids(id).size() >= 4; }));
      ASSERT_TRUE(supervisor.terminate(id).is_ok());
      ASSERT_TRUE(log_.wait_for(id)) << id;
      EXPECT_FALSE(supervisor.is_running(id));
    }
  }
  for (int sid : sessions) EXPECT_TRUE(list_session(sid).empty()) << sid;
}

TEST_F(SupervisorTest, DestructorEndsWhatIsStillRunning) {
  int sid = 0;
  {
    LoggedSupervisor supervisor(&log_, {kFastGrace, kFastGrace});
    Result<ProcessHandle> handle =
        start_task(&supervisor, "T_1", shell("trap '' INT TERM; " + std::string(kDdpScript)));
    ASSERT_TRUE(handle.is_ok());
    sid = handle->pid;
    ASSERT_TRUE(eventually([&] { return supervisor.task_pids("T_1").size() == kDdpProcesses; }));
  }
  EXPECT_EQ(log_.count("T_1"), 1);
  EXPECT_TRUE(list_session(sid).empty());
}

TEST_F(SupervisorTest, AdoptedTaskIsTerminatedLikeAnOwnOne) {
  const std::string output = dir_.file("out.txt");
  Result<ProcessHandle> handle = Status::not_found("not started");
  {
    LoggedSupervisor earlier(&log_);
    handle = start_task(&earlier, "T_1", shell(kDdpScript, output));
    ASSERT_TRUE(handle.is_ok());
    ASSERT_TRUE(eventually([&] { return earlier.task_pids("T_1").size() == kDdpProcesses; }));
    earlier.detach();
    EXPECT_FALSE(earlier.is_running("T_1"));
  }
  EXPECT_EQ(list_session(handle->pid).size(), kDdpProcesses);
  EXPECT_EQ(log_.count("T_1"), 0);

  LoggedSupervisor supervisor(&log_);
  ASSERT_TRUE(supervisor.adopt("T_1", *handle, dir_.file("exit")).is_ok());
  EXPECT_TRUE(supervisor.is_running("T_1"));
  EXPECT_EQ(supervisor.adopt("T_1", *handle, "").code(), Status::Code::kAlreadyExists);
  ASSERT_TRUE(supervisor.terminate("T_1").is_ok());
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->terminated);
  EXPECT_EQ(exit->detail, "terminated by SIGINT");
  EXPECT_TRUE(list_session(handle->pid).empty());
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
  EXPECT_TRUE(start_task(starter, "starter", spec).is_ok());
  EXPECT_TRUE(eventually([&] { return !read_text(dir.file("pid")).empty(); }));
  ProcessHandle process;
  process.pid = std::stoi(read_text(dir.file("pid")));
  const std::optional<ProcStat> stat = read_proc_stat(process.pid);
  EXPECT_TRUE(stat);
  if (stat) process.start_ticks = stat->start_ticks;
  return process;
}

TEST_F(SupervisorTest, AdoptedTaskReportsTheCodeOfItsExitFile) {
  LoggedSupervisor starter(&log_);
  const ProcessHandle process = start_stranger(&starter, dir_, "echo 5 > exit; exit 5");
  LoggedSupervisor supervisor(&log_);
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
  LoggedSupervisor starter(&log_);
  const ProcessHandle process = start_stranger(&starter, dir_, "exit 5");
  LoggedSupervisor supervisor(&log_);
  ASSERT_TRUE(supervisor.adopt("T_1", process, dir_.file("exit")).is_ok());
  dir_.write("go", "");
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_FALSE(exit->exit_code);
  EXPECT_EQ(exit->detail, "exit code unknown");
  EXPECT_TRUE(log_.wait_for("starter"));
}

TEST_F(SupervisorTest, AdoptChecksThePidAndItsStartTicks) {
  LoggedSupervisor supervisor(&log_);
  Result<ProcessHandle> handle = start_task(&supervisor, "T_1", shell("exec sleep 100"));
  ASSERT_TRUE(handle.is_ok());
  LoggedSupervisor other(&log_);
  ProcessHandle wrong = *handle;
  wrong.start_ticks += 1;
  EXPECT_EQ(other.adopt("T_2", wrong, "").code(), Status::Code::kNotFound);
  EXPECT_EQ(other.adopt("T_2", {0, 0}, "").code(), Status::Code::kNotFound);
  EXPECT_FALSE(other.is_running("T_2"));
}

TEST_F(SupervisorTest, AdoptRefusesAProcessThatDoesNotLeadItsSession) {
  LoggedSupervisor supervisor(&log_);
  SpawnSpec spec = shell("sleep 100 & echo $! > child.tmp && mv child.tmp child; wait");
  spec.cwd = dir_.path();
  ASSERT_TRUE(start_task(&supervisor, "T_1", spec).is_ok());
  ASSERT_TRUE(eventually([&] { return !read_text(dir_.file("child")).empty(); }));
  const int child = std::stoi(read_text(dir_.file("child")));
  const std::optional<ProcStat> stat = read_proc_stat(child);
  ASSERT_TRUE(stat);
  LoggedSupervisor other(&log_);
  EXPECT_EQ(other.adopt("T_2", {child, stat->start_ticks}, "").code(),
            Status::Code::kFailedPrecondition);
}

TEST_F(SupervisorTest, AProcessGroupLeaderOfAnEarlierServerIsAdoptedAndEndedWhole) {
  // What servers before the session rule started: a process group leader in another session.
  const pid_t leader = ::fork();
  ASSERT_GE(leader, 0);
  if (leader == 0) {
    ::setpgid(0, 0);
    ::execl("/bin/sh", "sh", "-c", "sleep 100 & wait", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_TRUE(eventually([&] { return process_group_members(leader).size() >= 2; }));
  const std::optional<ProcStat> stat = read_proc_stat(leader);
  ASSERT_TRUE(stat);
  ASSERT_NE(stat->session, leader);
  LoggedSupervisor supervisor(&log_);
  ASSERT_TRUE(supervisor.adopt("T_1", {leader, stat->start_ticks}, "").is_ok());
  ASSERT_TRUE(supervisor.terminate("T_1").is_ok());
  ASSERT_TRUE(log_.wait_for("T_1"));
  EXPECT_TRUE(eventually([&] { return process_group_members(leader).empty(); }));
}

// Gated start: spawn holds the process before it runs anything; release lets it run.

/// A task that leaves the file "marker" when it runs, with the exit file "exit".
SpawnSpec marker_task(const testing::TempDir& dir) {
  SpawnSpec spec = shell("echo ran > " + dir.file("marker"));
  spec.exit_file = dir.file("exit");
  return spec;
}

TEST_F(SupervisorTest, SpawnHoldsTheProgramUntilRelease) {
  LoggedSupervisor supervisor(&log_);
  const Result<ProcessHandle> handle = supervisor.spawn("T_1", marker_task(dir_));
  ASSERT_TRUE(handle.is_ok()) << handle.status().to_string();
  const std::optional<ProcStat> stat = read_proc_stat(handle->pid);
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->start_ticks, handle->start_ticks);
  EXPECT_EQ(stat->session, handle->pid);
  EXPECT_EQ(stat->pgrp, handle->pid);
  EXPECT_EQ(supervisor.task_pids("T_1"), std::vector<int>{handle->pid});
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_FALSE(exists(dir_.file("marker")));
  EXPECT_TRUE(supervisor.is_running("T_1"));

  ASSERT_TRUE(supervisor.release("T_1").is_ok());
  EXPECT_FALSE(supervisor.release("T_1").is_ok());
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 0);
  EXPECT_FALSE(exit->never_started());
  EXPECT_EQ(exit->detail, "exited with code 0");
  EXPECT_EQ(read_text(dir_.file("marker")), "ran\n");
  EXPECT_FALSE(exists(dir_.file("exit")));
}

TEST_F(SupervisorTest, AbandonedTaskNeverStarts) {
  LoggedSupervisor supervisor(&log_);
  ASSERT_TRUE(supervisor.spawn("T_1", marker_task(dir_)).is_ok());
  supervisor.abandon("T_1");
  supervisor.abandon("T_1");  // a second time changes nothing
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->never_started());
  EXPECT_EQ(exit->exit_code, kExitNeverStarted);
  EXPECT_FALSE(exit->terminated);
  EXPECT_EQ(exit->detail, "never started: given up before it was released");
  EXPECT_EQ(read_text(dir_.file("exit")), "252\n");
  EXPECT_FALSE(exists(dir_.file("marker")));
  EXPECT_FALSE(supervisor.release("T_1").is_ok());
  supervisor.abandon("no such task");
}

TEST_F(SupervisorTest, TerminatingAHeldTaskAbandonsIt) {
  LoggedSupervisor supervisor(&log_);
  ASSERT_TRUE(supervisor.spawn("T_1", marker_task(dir_)).is_ok());
  ASSERT_TRUE(supervisor.terminate("T_1").is_ok());
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->never_started());
  EXPECT_TRUE(exit->terminated);
  EXPECT_EQ(read_text(dir_.file("exit")), "252\n");
  EXPECT_FALSE(exists(dir_.file("marker")));
}

TEST_F(SupervisorTest, DestructionAbandonsHeldTasks) {
  {
    LoggedSupervisor supervisor(&log_);
    ASSERT_TRUE(supervisor.spawn("T_1", marker_task(dir_)).is_ok());
  }
  ASSERT_EQ(log_.count("T_1"), 1);
  EXPECT_TRUE(log_.wait_for("T_1")->never_started());
  EXPECT_EQ(read_text(dir_.file("exit")), "252\n");
  EXPECT_FALSE(exists(dir_.file("marker")));
}

TEST_F(SupervisorTest, DetachAbandonsHeldTasks) {
  int pid = 0;
  {
    LoggedSupervisor supervisor(&log_);
    const Result<ProcessHandle> handle = supervisor.spawn("T_1", marker_task(dir_));
    ASSERT_TRUE(handle.is_ok());
    pid = handle->pid;
    supervisor.detach();
    EXPECT_TRUE(eventually([&] { return read_text(dir_.file("exit")) == "252\n"; }));
  }
  const std::optional<int> status = reap_within_5s(pid);  // no longer watched: reaped here
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), kExitNeverStarted);
  EXPECT_FALSE(exists(dir_.file("marker")));
  EXPECT_EQ(log_.count("T_1"), 0);
}

TEST_F(SupervisorTest, HeldTaskOfAKilledServerNeverStarts) {
  // The held process is reparented here when its server dies.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  const SpawnSpec spec = marker_task(dir_);
  const pid_t server = ::fork();
  ASSERT_GE(server, 0);
  if (server == 0) {  // the server: spawns, reports the pid, waits to be killed
    Supervisor supervisor;
    const Result<ProcessHandle> handle = supervisor.spawn("T_1", spec);
    const int pid = handle.is_ok() ? handle->pid : -1;
    if (::write(pipe_fds[1], &pid, sizeof pid) != sizeof pid) ::_exit(1);
    for (;;) ::pause();
  }
  ::close(pipe_fds[1]);
  int pid = 0;
  const ssize_t n = ::read(pipe_fds[0], &pid, sizeof pid);
  ::close(pipe_fds[0]);
  ASSERT_EQ(n, static_cast<ssize_t>(sizeof pid));
  ASSERT_GT(pid, 0);
  std::this_thread::sleep_for(milliseconds(100));
  ::kill(server, SIGKILL);
  ASSERT_EQ(::waitpid(server, nullptr, 0), server);

  const std::optional<int> status = reap_within_5s(pid);
  ASSERT_TRUE(status) << "the held process outlived its server";
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), kExitNeverStarted);
  EXPECT_EQ(read_text(dir_.file("exit")), "252\n");
  EXPECT_FALSE(exists(dir_.file("marker")));
}

TEST_F(SupervisorTest, ConcurrentSpawnsEachKeepTheirOwnGate) {
  // Each child briefly inherits the gates of children forked at the same time by other threads;
  // it closes them before it waits, so an abandoned gate still reads end of file at once.
  LoggedSupervisor supervisor(&log_);
  constexpr int kThreads = 4;
  constexpr int kTasksPerThread = 8;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kTasksPerThread; ++i) {
        const std::string id = "T_" + std::to_string(t) + "_" + std::to_string(i);
        if (!supervisor.spawn(id, shell("exit 0")).is_ok()) continue;
        if (i % 2 == 0) {
          supervisor.abandon(id);
        } else {
          (void)supervisor.release(id);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kTasksPerThread; ++i) {
      const std::string id = "T_" + std::to_string(t) + "_" + std::to_string(i);
      const std::optional<ExitInfo> exit = log_.wait_for(id);
      ASSERT_TRUE(exit) << id;
      EXPECT_EQ(exit->exit_code, i % 2 == 0 ? kExitNeverStarted : 0) << id;
    }
  }
}

// Output files a task cannot use to wedge the server.

TEST_F(SupervisorTest, RefusesAFifoAsOutputAtOnce) {
  const std::string fifo = dir_.file("_output.txt");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  SpawnSpec spec = marker_task(dir_);
  spec.output_path = fifo;
  LoggedSupervisor supervisor(&log_);
  const auto begin = std::chrono::steady_clock::now();
  auto spawned = std::async(std::launch::async, [&] { return supervisor.spawn("T_1", spec); });
  if (spawned.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
    ADD_FAILURE() << "spawn blocked on a FIFO";
    const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);  // lets the open return
    spawned.wait();
    ::close(reader);
  }
  const Result<ProcessHandle> handle = spawned.get();
  EXPECT_LT(seconds_since(begin), 0.5);
  ASSERT_FALSE(handle.is_ok());
  EXPECT_EQ(handle.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(handle.status().message(),
            "cannot start /bin/sh: output file " + fifo + " is not a regular file");
  EXPECT_FALSE(supervisor.is_running("T_1"));
  EXPECT_TRUE(children_of_this_process().empty());
}

TEST_F(SupervisorTest, RefusesASymbolicLinkAsOutput) {
  const std::string precious = dir_.write("precious.txt", "keep\n");
  const std::string link = dir_.file("_output.txt");
  ASSERT_EQ(::symlink(precious.c_str(), link.c_str()), 0);
  const std::string dangling = dir_.file("dangling.txt");
  ASSERT_EQ(::symlink(dir_.file("new.txt").c_str(), dangling.c_str()), 0);
  LoggedSupervisor supervisor(&log_);
  SpawnSpec spec = marker_task(dir_);
  spec.output_path = link;
  Result<ProcessHandle> handle = supervisor.spawn("T_1", spec);
  ASSERT_FALSE(handle.is_ok());
  EXPECT_EQ(handle.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(handle.status().message(),
            "cannot start /bin/sh: output file " + link + " is a symbolic link");
  spec.output_path = dangling;
  EXPECT_FALSE(supervisor.spawn("T_1", spec).is_ok());
  EXPECT_EQ(read_text(precious), "keep\n");
  EXPECT_FALSE(exists(dir_.file("new.txt")));
  EXPECT_FALSE(exists(dir_.file("marker")));
  EXPECT_TRUE(children_of_this_process().empty());
}

// A task is its whole session: processes in other process groups (ninja's compilers) too.

/// bash with job control puts its job, `sleep 100`, in a process group of its own (as ninja does
/// with each compiler) and writes the job's pid to "job"; then it runs `then`.
SpawnSpec job_in_own_group(const testing::TempDir& dir, const std::string& then) {
  SpawnSpec spec;
  spec.argv = {"/bin/bash", "-c",
               "set -m; sleep 100 & echo $! > job.tmp && mv job.tmp job; " + then};
  spec.cwd = dir.path();
  return spec;
}

/// The pid in "job", once it is there and the job runs in a group of its own in session `sid`.
int wait_for_job(const testing::TempDir& dir, int sid) {
  EXPECT_TRUE(eventually([&] { return !read_text(dir.file("job")).empty(); }));
  const int job = std::stoi("0" + read_text(dir.file("job")));
  const std::optional<ProcStat> stat = read_proc_stat(job);
  EXPECT_TRUE(stat);
  if (stat) {
    EXPECT_NE(stat->pgrp, sid);
    EXPECT_EQ(stat->session, sid);
  }
  return job;
}

bool contains(const std::vector<int>& pids, int pid) {
  return std::find(pids.begin(), pids.end(), pid) != pids.end();
}

TEST_F(SupervisorTest, TerminateEndsProcessesInOtherGroupsOfTheSession) {
  LoggedSupervisor supervisor(&log_, {kFastGrace, kFastGrace});
  const Result<ProcessHandle> handle =
      start_task(&supervisor, "T_1", job_in_own_group(dir_, "wait"));
  ASSERT_TRUE(handle.is_ok()) << handle.status().to_string();
  const int job = wait_for_job(dir_, handle->pid);
  EXPECT_TRUE(contains(supervisor.task_pids("T_1"), job));
  EXPECT_TRUE(contains(supervisor.task_pids("T_1"), handle->pid));
  ASSERT_TRUE(supervisor.terminate("T_1").is_ok());
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->terminated);
  EXPECT_FALSE(read_proc_stat(job)) << "the job in its own group survived";
  EXPECT_TRUE(list_session(handle->pid).empty());
}

TEST_F(SupervisorTest, KillsWhatTheLeaderLeavesInOtherGroups) {
  LoggedSupervisor supervisor(&log_);
  const Result<ProcessHandle> handle =
      start_task(&supervisor, "T_1", job_in_own_group(dir_, "exit 3"));
  ASSERT_TRUE(handle.is_ok());
  const std::optional<ExitInfo> exit = log_.wait_for("T_1");
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 3);
  const int job = std::stoi("0" + read_text(dir_.file("job")));
  ASSERT_GT(job, 0);
  EXPECT_FALSE(read_proc_stat(job)) << "the job in its own group survived";
  EXPECT_TRUE(list_session(handle->pid).empty());
}

TEST_F(SupervisorTest, AdoptedTaskIsEndedWithItsWholeSession) {
  Result<ProcessHandle> handle = Status::not_found("not started");
  int job = 0;
  {
    LoggedSupervisor earlier(&log_);
    handle = start_task(&earlier, "T_1", job_in_own_group(dir_, "wait"));
    ASSERT_TRUE(handle.is_ok());
    job = wait_for_job(dir_, handle->pid);
    earlier.detach();
  }
  LoggedSupervisor supervisor(&log_, {kFastGrace, kFastGrace});
  ASSERT_TRUE(supervisor.adopt("T_1", *handle, "").is_ok());
  EXPECT_TRUE(contains(supervisor.task_pids("T_1"), job));
  ASSERT_TRUE(supervisor.terminate("T_1").is_ok());
  ASSERT_TRUE(log_.wait_for("T_1"));
  EXPECT_FALSE(read_proc_stat(job)) << "the job in its own group survived";
  EXPECT_TRUE(list_session(handle->pid).empty());
}

}  // namespace
}  // namespace dlnest
