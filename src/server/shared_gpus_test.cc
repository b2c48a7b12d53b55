// Two servers of two users share one machine's GPUs (simulated, shared through a folder as real
// GPUs are through the driver) and receive bursts of tasks at the same moment. Each "server" is a
// forked child running the real dispatcher, supervisor, state database and reservation ledger;
// its tasks are real processes that take a while to allocate their memory, as real tasks do.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "devices/simulated_machine.h"
#include "devices/simulated_probe.h"
#include "devices/simulated_runner.h"
#include "dlnest/env.h"
#include "server/dispatcher.h"
#include "supervisor/supervisor.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

constexpr int64_t kGpuMb = 10000;

/// How a child server is set up.
struct ServerSetup {
  std::string dir;          ///< its state, packages and worker script
  std::string machine;      ///< the shared simulated machine
  std::vector<int64_t> gpus;
  uid_t uid = 0;            ///< the user it runs as
  int alloc_delay_ms = 80;  ///< how long its tasks take to allocate
  bool use_ledger = true;
};

/// Reads one line from `fd`; "" at end of file.
std::string read_line(int fd) {
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

void write_line(int fd, const std::string& line) {
  const std::string text = line + "\n";
  (void)::write(fd, text.data(), text.size());
}

/// The child's side: a dispatcher that takes commands from `in` and answers on `out`:
/// "submit MB MB ..." queues GPU tasks; "clear" deletes every task and waits until all ended.
[[noreturn]] void serve_commands(const ServerSetup& setup, int in, int out) {
  if (setup.uid != ::getuid() && (::setgid(setup.uid) != 0 || ::setuid(setup.uid) != 0)) {
    ::_exit(20);
  }
  auto store = StateStore::open(setup.dir + "/state");
  if (!store.is_ok()) ::_exit(21);
  (void)Env::default_env()->create_dirs(setup.dir + "/tasks");
  auto machine = SimulatedMachine::open(setup.machine, setup.alloc_delay_ms / 1000.0);
  if (!machine.is_ok()) ::_exit(22);
  auto ledger = FileLedger::open(machine->ledger_dir());
  if (!ledger.is_ok()) ::_exit(23);
  SimulatedProbe probe(setup.gpus, *machine);
  SimulatedGpuRunner runner(std::make_unique<Supervisor>(), &probe);
  MessageLog log;
  DispatcherOptions options;
  options.tasks_dir = setup.dir + "/tasks";
  options.launch.worker_path = setup.dir + "/worker.sh";
  options.launch.dlnest_path = "/nonexistent/dlnest";
  options.delay_s = 0.02;
  options.end_tasks_on_exit = true;
  if (setup.use_ledger) options.ledger = ledger->get();
  {
    Dispatcher dispatcher(options, &*store, &probe, &runner, &log);
    dispatcher.recover();
    dispatcher.start();
    int n = 0;
    for (std::string command = read_line(in); !command.empty(); command = read_line(in)) {
      std::istringstream words(command);
      std::string verb;
      words >> verb;
      if (verb == "submit") {
        for (int64_t mb; words >> mb;) {
          TaskRecord t;
          t.memory_mb = mb;
          t.package_dir = setup.dir + "/pkg" + std::to_string(++n);
          (void)Env::default_env()->create_dirs(t.package_dir);
          t.args = Json{{"epochs", 1}};
          (void)store->add_with_new_id(t);
        }
        dispatcher.wake();
      } else if (verb == "clear") {
        for (const TaskRecord& t : store->list_all().value()) {
          if (!is_ended(t.state)) (void)dispatcher.delete_task(t.id);
        }
        for (int i = 0; i < 500; ++i) {
          bool all_ended = true;
          for (const TaskRecord& t : store->list_all().value()) all_ended &= is_ended(t.state);
          if (all_ended) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
      write_line(out, "ok");
    }
    dispatcher.stop();
  }
  ::_exit(0);
}

/// A child server and the pipes to it.
class ChildServer {
 public:
  explicit ChildServer(const ServerSetup& setup) {
    int to[2], from[2];
    EXPECT_EQ(::pipe(to), 0);
    EXPECT_EQ(::pipe(from), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(to[1]);
      ::close(from[0]);
      serve_commands(setup, to[0], from[1]);
    }
    ::close(to[0]);
    ::close(from[1]);
    in_ = to[1];
    out_ = from[0];
  }
  ~ChildServer() {
    if (pid_ <= 0) return;
    ::close(in_);  // end of commands: the child ends its tasks and exits
    ::waitpid(pid_, nullptr, 0);
    ::close(out_);
  }
  void send(const std::string& command) { write_line(in_, command); }
  bool answered() { return read_line(out_) == "ok"; }
  /// SIGKILL: the server dies where it stands.
  void kill_hard() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
    ::close(in_);
    ::close(out_);
  }

 private:
  pid_t pid_ = 0;
  int in_ = -1;
  int out_ = -1;
};

class SharedGpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::chmod(dir_.path().c_str(), 0755);  // the other user runs the worker script from here
    machine_ = dir_.file("machine");
    ASSERT_TRUE(SimulatedMachine::open(machine_, 0).is_ok());
  }

  /// A server folder with a worker that only sleeps, owned by `uid`.
  ServerSetup setup(const std::string& name, uid_t uid, std::vector<int64_t> gpus) {
    ServerSetup s;
    s.dir = dir_.file(name);
    s.machine = machine_;
    s.gpus = std::move(gpus);
    s.uid = uid;
    EXPECT_TRUE(Env::default_env()->create_dirs(s.dir).is_ok());
    std::ofstream(s.dir + "/worker.sh") << "#!/bin/sh\nexec sleep 60\n";
    ::chmod((s.dir + "/worker.sh").c_str(), 0755);
    if (uid != ::getuid()) {
      EXPECT_EQ(::chown(s.dir.c_str(), uid, uid), 0);
    }
    return s;
  }

  /// The other user: nobody when this test runs as root, else this same user.
  static uid_t other_uid() { return ::getuid() == 0 ? 65534 : ::getuid(); }

  /// MB placed on each GPU by the tasks of both servers, allocated or not yet.
  std::map<int, int64_t> placed() const {
    auto machine = SimulatedMachine::open(machine_, 0);
    std::map<int, int64_t> sums;
    for (const SharedHolding& h : machine->holdings(simulated_machine_now())) sums[h.gpu] += h.mb;
    return sums;
  }

  /// Runs `rounds` bursts against servers a and b; returns the first round that overbooked a
  /// GPU (with what was placed), or -1.
  int run_rounds(ChildServer& a, ChildServer& b, int rounds, unsigned seed, std::string* what) {
    std::mt19937 random(seed);
    std::uniform_int_distribution<int> count(1, 4);
    std::uniform_int_distribution<int64_t> mb(1000, 8000);
    for (int round = 0; round < rounds; ++round) {
      std::string burst_a = "submit", burst_b = "submit";
      for (int i = count(random); i > 0; --i) burst_a += " " + std::to_string(mb(random));
      for (int i = count(random); i > 0; --i) burst_b += " " + std::to_string(mb(random));
      a.send(burst_a);  // both at the same moment
      b.send(burst_b);
      EXPECT_TRUE(a.answered());
      EXPECT_TRUE(b.answered());
      std::this_thread::sleep_for(std::chrono::milliseconds(150));  // rounds before and after
                                                                    // the allocations show
      const std::map<int, int64_t> now_placed = placed();
      if (!now_placed.empty()) ++rounds_with_placements_;
      for (const auto& [gpu, sum] : now_placed) {
        if (sum > kGpuMb / 2) ++gpus_more_than_half_full_;
        if (sum > kGpuMb) {
          *what = "round " + std::to_string(round) + ": " + std::to_string(sum) +
                  " MB placed on GPU " + std::to_string(gpu) + " of " + std::to_string(kGpuMb) +
                  " (bursts: A " + burst_a + ", B " + burst_b + ")";
          return round;
        }
      }
      a.send("clear");
      b.send("clear");
      EXPECT_TRUE(a.answered());
      EXPECT_TRUE(b.answered());
    }
    return -1;
  }

  testing::TempDir dir_;
  std::string machine_;
  int rounds_with_placements_ = 0;   // rounds that started any task
  int gpus_more_than_half_full_ = 0;  // GPUs seen more than half full at the end of a round
};

TEST_F(SharedGpusTest, TwoUsersServersNeverPlaceMoreThanAGpuHasIn200Rounds) {
  const unsigned seed = static_cast<unsigned>(std::random_device{}());
  ChildServer a(setup("a", ::getuid(), {kGpuMb, kGpuMb}));
  ChildServer b(setup("b", other_uid(), {kGpuMb, kGpuMb}));
  std::string what;
  EXPECT_EQ(run_rounds(a, b, 200, seed, &what), -1) << what << " (seed " << seed << ")";
  // Not vacuous: tasks started in every round, and GPUs were often near full.
  EXPECT_EQ(rounds_with_placements_, 200);
  EXPECT_GT(gpus_more_than_half_full_, 100);
}

TEST_F(SharedGpusTest, WithoutTheLedgerTheSameBurstsOverbook) {
  // The control: the check above sees overbooking when the servers do not share reservations.
  ServerSetup sa = setup("a", ::getuid(), {kGpuMb, kGpuMb});
  ServerSetup sb = setup("b", other_uid(), {kGpuMb, kGpuMb});
  sa.use_ledger = sb.use_ledger = false;
  ChildServer a(sa);
  ChildServer b(sb);
  std::string what;
  EXPECT_GE(run_rounds(a, b, 50, 1, &what), 0) << "no round overbooked without the ledger";
}

TEST_F(SharedGpusTest, AKilledServersReservationsEndWithIt) {
  ServerSetup sb = setup("b", other_uid(), {kGpuMb});
  sb.alloc_delay_ms = 60000;  // its task never shows its memory during the test
  ChildServer b(sb);
  b.send("submit 8000");
  ASSERT_TRUE(b.answered());
  for (int i = 0; i < 200 && placed()[0] == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(placed()[0], 8000);
  ChildServer a(setup("a", ::getuid(), {kGpuMb}));
  a.send("submit 5000");
  ASSERT_TRUE(a.answered());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(placed()[0], 8000) << "A placed its task on memory B had promised";
  // B dies with its task (a server killed with its process tree).
  auto machine = SimulatedMachine::open(machine_, 0);
  for (const SharedHolding& h : machine->holdings(simulated_machine_now())) {
    ::kill(-h.pid, SIGKILL);
  }
  b.kill_hard();
  for (int i = 0; i < 300 && placed()[0] != 5000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(placed()[0], 5000) << "B's reservation outlived B";
}

}  // namespace
}  // namespace dlnest
