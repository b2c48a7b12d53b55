// StateStore: the server's tasks in an SQLite database (`<state dir>/state.db`), so that a
// restarted server, even after kill -9, still knows every task. docs/state.md describes the schema,
// the durability settings and the recovery rules.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dlnest/status.h"
#include "env/state_dir.h"
#include "state/sqlite_db.h"
#include "state/task_record.h"

namespace dlnest {

/// The schema version this build writes; open() migrates older databases up to it.
inline constexpr int kStateSchemaVersion = 4;
/// The database file's name inside the state directory.
inline constexpr const char* kStateDbName = "state.db";

/// The persistent task table. Safe to share between threads; several stores (or processes) may
/// open the same directory, each change being one SQLite transaction.
class StateStore {
 public:
  /// Clock in wall-clock seconds since the epoch, for the times the store records.
  using Clock = std::function<double()>;

  /// Opens the store in `state_dir`, creating the folder (mode 0700) and the database, and
  /// migrating an older schema. `clock` defaults to the system clock.
  static Result<StateStore> open(const std::string& state_dir, Clock clock = nullptr);

  StateStore(StateStore&& other) noexcept;
  StateStore& operator=(StateStore&&) = delete;

  /// Adds `task` as a new Pending task; AlreadyExists when its id is taken. A zero submit_time
  /// becomes now.
  Status add(TaskRecord task);
  /// Adds `task` as a new Pending task under a fresh id in the original's look (see
  /// format_task_id) and returns that id.
  Result<std::string> add_with_new_id(TaskRecord task);

  /// The task `id`; NotFound naming it.
  Result<TaskRecord> get(const std::string& id);
  /// Every task, in submission order.
  Result<std::vector<TaskRecord>> list_all();
  /// The tasks in `state`, in submission order.
  Result<std::vector<TaskRecord>> list(TaskState state);
  /// The `limit` ended (Finished, Failed, Killed) tasks that ended last, oldest first.
  Result<std::vector<TaskRecord>> list_ended(size_t limit);

  /// Moves task `id` to `to`; FailedPrecondition naming both states when that is not a legal
  /// transition (see is_legal_transition).
  Status update_state(const std::string& id, TaskState to);
  /// Pending -> Running: records the process, its start ticks, the devices and the start time.
  /// FailedPrecondition when a delete was requested.
  Status mark_running(const std::string& id, int pid, uint64_t pid_start_ticks,
                      const std::vector<int>& devices);
  /// Pending -> Building: records the build process and its start ticks, like mark_running.
  Status mark_building(const std::string& id, int pid, uint64_t pid_start_ticks);
  /// Building or Running -> Pending: the build succeeded (`built`: the plugin is no longer to be
  /// built) or the process never started (a crash of the server that spawned it). Forgets the
  /// process, devices and start time; does not count as a restart.
  Status requeue(const std::string& id, bool built);
  /// Deletes task `id` in one transaction and returns the state it was in: a Pending task
  /// becomes Killed; a Building or Running one is marked delete_requested, so that the delete
  /// survives a crash (it ends Killed and is never restarted) while its processes are ended.
  /// FailedPrecondition for a task that has already ended.
  Result<TaskState> request_delete(const std::string& id);
  /// Running or Pending -> `state` (Finished, Failed or Killed): records the exit code (nullopt
  /// when there is none, e.g. killed before it started), the error text and the end time.
  Status mark_ended(const std::string& id, TaskState state, std::optional<int> exit_code,
                    const std::string& error = "");
  /// Failed -> Pending for a restart: counts the restart and forgets the old process, devices,
  /// times and exit code. FailedPrecondition when the task has no restart left.
  Status bump_restarts(const std::string& id);

  /// Raises task `id`'s peak_memory_mb to `mb` when `mb` is larger; returns whether it rose.
  /// The peak is kept across restarts and never lowered.
  Result<bool> raise_peak_memory(const std::string& id, int64_t mb);
  /// The task whose peak `-m auto` uses for `config_digest`: of the tasks with that digest and a
  /// recorded peak, an ended one before a running one, then the last submitted. nullopt: none
  /// (or an empty digest).
  Result<std::optional<TaskRecord>> last_peak(const std::string& config_digest);

  /// Deletes task `id`, which must not be Running.
  Status remove(const std::string& id);
  /// Deletes every Finished, Failed and Killed task; returns how many.
  Result<int64_t> clear_finished();

 private:
  StateStore(SqliteDb db, Clock clock) : db_(std::move(db)), clock_(std::move(clock)) {}

  // Applies `change` to task `id` in one transaction and writes the result back.
  Status modify(const std::string& id, const std::function<Status(TaskRecord&)>& change);
  Status check_transition(const TaskRecord& task, TaskState to) const;
  Status mark_started(const std::string& id, TaskState to, int pid, uint64_t pid_start_ticks,
                      const std::vector<int>& devices);
  // The *_locked helpers run with mu_ held (and, where they write, inside a transaction).
  Result<TaskRecord> get_locked(const std::string& id);
  // `where` may use the parameter ?1, bound to `arg`.
  Result<std::vector<TaskRecord>> query_locked(const std::string& where, const std::string& arg,
                                               const std::string& order = "ORDER BY seq");
  Status insert_locked(TaskRecord& task);  // fills in a zero submit_time
  Status write_locked(const TaskRecord& task);
  Result<int64_t> next_task_number_locked();

  std::mutex mu_;  ///< one connection, used by one thread at a time
  SqliteDb db_;
  Clock clock_;
};

}  // namespace dlnest
