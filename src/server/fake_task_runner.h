// A TaskRunner for the dispatcher's tests, like ninja's fake CommandRunner: processes exist only
// in a FakeMachine, which outlives the runners (servers) that start them, so a test can crash a
// server at any step of a start and let the next one find what is left.
#pragma once

#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "supervisor/task_runner.h"

namespace dlnest::testing {

/// Thrown by a FakeTaskRunner at its crash step: the server dies there.
struct ServerCrash {
  std::string step;
};

/// One process on the fake machine.
struct FakeProcess {
  std::string task_id;
  int pid = 0;
  SpawnSpec spec;
  int server = 0;         ///< which runner spawned it
  bool released = false;  ///< it ran (or runs) the program
  bool alive = true;
  std::optional<int> exit_code;
};

/// The machine: every process any runner started. Not thread-safe; tests drive it from one
/// thread.
class FakeMachine {
 public:
  FakeMachine() { processes_.reserve(4096); }

  FakeProcess& spawn(const std::string& task_id, const SpawnSpec& spec, int server) {
    FakeProcess p;
    p.task_id = task_id;
    p.pid = next_pid_++;
    p.spec = spec;
    p.server = server;
    processes_.push_back(std::move(p));
    return processes_.back();
  }
  FakeProcess* find(int pid) {
    for (FakeProcess& p : processes_) {
      if (p.pid == pid) return &p;
    }
    return nullptr;
  }
  /// Ends a process with `code`, writing its exit file as the worker does.
  void end(FakeProcess& p, int code) {
    if (!p.alive) return;
    p.alive = false;
    p.exit_code = code;
    if (!p.spec.exit_file.empty()) std::ofstream(p.spec.exit_file) << code;
  }
  /// Server `server` died: its held processes see their gate close and exit unstarted.
  void crash(int server) {
    for (FakeProcess& p : processes_) {
      if (p.server == server && p.alive && !p.released) end(p, kExitNeverStarted);
    }
  }
  /// The processes of `task_id` that ran its program.
  std::vector<const FakeProcess*> ran(const std::string& task_id) const {
    std::vector<const FakeProcess*> out;
    for (const FakeProcess& p : processes_) {
      if (p.task_id == task_id && p.released) out.push_back(&p);
    }
    return out;
  }
  /// The live processes of `task_id` that run its program.
  std::vector<const FakeProcess*> running(const std::string& task_id) const {
    std::vector<const FakeProcess*> out;
    for (const FakeProcess* p : ran(task_id)) {
      if (p->alive) out.push_back(p);
    }
    return out;
  }
  const std::vector<FakeProcess>& processes() const { return processes_; }

 private:
  std::vector<FakeProcess> processes_;  // reserved: references stay valid
  int next_pid_ = 1000;
};

/// The runner of server number `server` on `machine`. Exits are reported synchronously from the
/// call that causes them (the dispatcher only queues them).
class FakeTaskRunner : public TaskRunner {
 public:
  FakeTaskRunner(FakeMachine* machine, int server) : machine_(machine), server_(server) {}

  /// The step at which this server crashes (throws ServerCrash): "spawn", "spawned",
  /// "release", "released", "terminate"; empty: never.
  void crash_at(std::string step) { crash_step_ = std::move(step); }
  /// terminate() only signals: the process ends when the test says so (exit_task).
  void set_slow_terminate(bool slow) { slow_terminate_ = slow; }
  /// Calls `hook` with the task id right after each spawn.
  void on_spawned(std::function<void(const std::string&)> hook) { on_spawned_ = std::move(hook); }
  /// Makes the next spawn fail with `status`.
  void fail_next_spawn(Status status) { spawn_error_ = std::move(status); }

  void on_exit(ExitCallback callback) override { callback_ = std::move(callback); }

  Result<ProcessHandle> spawn(const std::string& task_id, const SpawnSpec& spec) override {
    step("spawn");
    if (!spawn_error_.is_ok()) {
      Status s = spawn_error_;
      spawn_error_ = Status::ok();
      return s;
    }
    FakeProcess& p = machine_->spawn(task_id, spec, server_);
    watched_[task_id] = p.pid;
    step("spawned");
    if (on_spawned_) on_spawned_(task_id);
    return ProcessHandle{p.pid, static_cast<uint64_t>(p.pid)};
  }
  Status release(const std::string& task_id) override {
    step("release");
    FakeProcess* p = process(task_id);
    if (p == nullptr || !p->alive) return Status::not_found("no process for " + task_id);
    p->released = true;
    step("released");
    return Status::ok();
  }
  void abandon(const std::string& task_id) override {
    FakeProcess* p = process(task_id);
    if (p != nullptr) finish(*p, kExitNeverStarted, false);
  }
  Status adopt(const std::string& task_id, const ProcessHandle& handle,
               const std::string&) override {
    FakeProcess* p = machine_->find(handle.pid);
    if (p == nullptr || !p->alive || handle.start_ticks != static_cast<uint64_t>(p->pid)) {
      return Status::not_found("process " + std::to_string(handle.pid) + " is gone");
    }
    watched_[task_id] = p->pid;
    return Status::ok();
  }
  Status terminate(const std::string& task_id) override {
    step("terminate");
    FakeProcess* p = process(task_id);
    if (p == nullptr || !p->alive) return Status::not_found("task " + task_id + " not running");
    terminating_.insert(task_id);
    if (!slow_terminate_) finish(*p, 128 + 2, true);
    return Status::ok();
  }
  void terminate_all_and_wait() override {
    std::vector<std::string> ids;
    for (const auto& [id, pid] : watched_) ids.push_back(id);
    for (const std::string& id : ids) (void)terminate(id);
  }
  void detach() override { watched_.clear(); }
  std::vector<int> task_pids(const std::string& task_id) const override {
    auto it = watched_.find(task_id);
    return it == watched_.end() ? std::vector<int>{} : std::vector<int>{it->second};
  }

  /// The task's process ends by itself with `code` (a worker finishing or crashing).
  void exit_task(const std::string& task_id, int code) {
    FakeProcess* p = process(task_id);
    if (p != nullptr) finish(*p, code, false);
  }
  bool watches(const std::string& task_id) const { return watched_.count(task_id) > 0; }

 private:
  void step(const std::string& name) {
    if (name == crash_step_) {
      crash_step_.clear();
      machine_->crash(server_);
      watched_.clear();
      throw ServerCrash{name};
    }
  }
  FakeProcess* process(const std::string& task_id) {
    auto it = watched_.find(task_id);
    return it == watched_.end() ? nullptr : machine_->find(it->second);
  }
  void finish(FakeProcess& p, int code, bool terminated) {
    machine_->end(p, code);
    watched_.erase(p.task_id);
    ExitInfo info;
    info.exit_code = code;
    info.terminated = terminated || terminating_.erase(p.task_id) > 0;
    if (callback_) callback_(p.task_id, info);
  }

  FakeMachine* machine_;
  int server_;
  std::string crash_step_;
  bool slow_terminate_ = false;
  std::function<void(const std::string&)> on_spawned_;
  std::set<std::string> terminating_;
  Status spawn_error_ = Status::ok();
  ExitCallback callback_;
  std::map<std::string, int> watched_;  // task id -> pid
};

}  // namespace dlnest::testing
