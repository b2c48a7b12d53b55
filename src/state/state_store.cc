#include "state/state_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <utility>

namespace dlnest {
namespace {

// Every column of `tasks` but `seq`, in the order task_bind() binds them (?1 = id).
constexpr const char* kColumns[] = {"id",
                                    "type",
                                    "state",
                                    "args",
                                    "package_dir",
                                    "script_path",
                                    "description",
                                    "memory_mb",
                                    "cpu",
                                    "multi_gpu",
                                    "ddp",
                                    "load_ckpt",
                                    "checkpoint_id",
                                    "devices",
                                    "submit_time",
                                    "start_time",
                                    "end_time",
                                    "exit_code",
                                    "pid",
                                    "pid_start_ticks",
                                    "restarts",
                                    "max_restarts",
                                    "error",
                                    "nproc",
                                    "project_dir",
                                    "needs_build",
                                    "delete_requested",
                                    "peak_memory_mb",
                                    "memory_source",
                                    "config_digest"};
constexpr int kColumnCount = static_cast<int>(sizeof(kColumns) / sizeof(kColumns[0]));

constexpr int kBusyTimeoutMs = 10000;

constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE tasks (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  state TEXT NOT NULL,
  args TEXT NOT NULL,
  package_dir TEXT NOT NULL,
  script_path TEXT NOT NULL,
  description TEXT NOT NULL,
  memory_mb INTEGER NOT NULL,
  cpu INTEGER NOT NULL,
  multi_gpu INTEGER NOT NULL,
  ddp INTEGER NOT NULL,
  load_ckpt INTEGER NOT NULL,
  checkpoint_id INTEGER NOT NULL,
  devices TEXT NOT NULL,
  submit_time REAL NOT NULL,
  start_time REAL NOT NULL,
  end_time REAL NOT NULL,
  exit_code INTEGER,
  pid INTEGER NOT NULL,
  pid_start_ticks INTEGER NOT NULL,
  restarts INTEGER NOT NULL,
  max_restarts INTEGER NOT NULL,
  error TEXT NOT NULL);
CREATE INDEX tasks_by_state ON tasks (state, seq);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO counters VALUES ('task_id', 0);
)sql";

// Migration i takes a database from schema version i to i + 1, inside open()'s transaction.
using Migration = Status (*)(SqliteDb& db);
Status migrate_to_v1(SqliteDb& db) {
  return db.exec(kSchemaV1);
}
// Version 2: the number of DDP ranks on the CPU (0 for the tasks of version 1: the default).
Status migrate_to_v2(SqliteDb& db) {
  return db.exec("ALTER TABLE tasks ADD COLUMN nproc INTEGER NOT NULL DEFAULT 0");
}
// Version 3: the build stage (project folder, plugin still to build) and durable deletes.
Status migrate_to_v3(SqliteDb& db) {
  return db.exec(
      "ALTER TABLE tasks ADD COLUMN project_dir TEXT NOT NULL DEFAULT '';"
      "ALTER TABLE tasks ADD COLUMN needs_build INTEGER NOT NULL DEFAULT 0;"
      "ALTER TABLE tasks ADD COLUMN delete_requested INTEGER NOT NULL DEFAULT 0;");
}
// Version 4: the measured GPU memory peak, where the estimate came from, and the config key
// `-m auto` looks peaks up by.
Status migrate_to_v4(SqliteDb& db) {
  return db.exec(
      "ALTER TABLE tasks ADD COLUMN peak_memory_mb INTEGER NOT NULL DEFAULT 0;"
      "ALTER TABLE tasks ADD COLUMN memory_source TEXT NOT NULL DEFAULT '';"
      "ALTER TABLE tasks ADD COLUMN config_digest TEXT NOT NULL DEFAULT '';"
      "CREATE INDEX tasks_by_config ON tasks (config_digest, seq);");
}
constexpr Migration kMigrations[] = {&migrate_to_v1, &migrate_to_v2, &migrate_to_v3,
                                     &migrate_to_v4};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kStateSchemaVersion,
              "one migration per schema version");

std::string column_list() {
  std::string list;
  for (const char* column : kColumns) list += (list.empty() ? "" : ", ") + std::string(column);
  return list;
}

double system_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Creates `dir` and its missing parents with mode 0700.
Status create_private_dirs(const std::string& dir) {
  for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
    const std::string prefix = dir.substr(0, slash);
    if (!prefix.empty() && ::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::io_error("creating state directory " + prefix + ": " + ::strerror(errno));
    }
    if (slash == std::string::npos) return Status::ok();
  }
}

void task_bind(SqliteStatement& stmt, const TaskRecord& t) {
  stmt.bind(1, t.id).bind(2, std::string(task_type_name(t.type)));
  stmt.bind(3, std::string(task_state_name(t.state))).bind(4, t.args.dump());
  stmt.bind(5, t.package_dir).bind(6, t.script_path).bind(7, t.description);
  stmt.bind(8, t.memory_mb).bind(9, int64_t{t.cpu}).bind(10, int64_t{t.multi_gpu});
  stmt.bind(11, int64_t{t.ddp}).bind(12, int64_t{t.load_ckpt}).bind(13, t.checkpoint_id);
  stmt.bind(14, Json(t.devices).dump()).bind(15, t.submit_time).bind(16, t.start_time);
  stmt.bind(17, t.end_time);
  if (t.exit_code) {
    stmt.bind(18, int64_t{*t.exit_code});
  } else {
    stmt.bind_null(18);
  }
  stmt.bind(19, int64_t{t.pid}).bind(20, static_cast<int64_t>(t.pid_start_ticks));
  stmt.bind(21, int64_t{t.restarts}).bind(22, int64_t{t.max_restarts}).bind(23, t.error);
  stmt.bind(24, int64_t{t.nproc}).bind(25, t.project_dir).bind(26, int64_t{t.needs_build});
  stmt.bind(27, int64_t{t.delete_requested}).bind(28, t.peak_memory_mb);
  stmt.bind(29, t.memory_source).bind(30, t.config_digest);
}

// The record in the current row of a `SELECT <column_list()>`.
Result<TaskRecord> task_from_row(const SqliteStatement& row) {
  TaskRecord t;
  t.id = row.column_text(0);
  Result<TaskType> type = parse_task_type(row.column_text(1));
  Result<TaskState> state = parse_task_state(row.column_text(2));
  Json args = Json::parse(row.column_text(3), nullptr, false);
  Json devices = Json::parse(row.column_text(13), nullptr, false);
  if (!type.is_ok() || !state.is_ok() || args.is_discarded() || !devices.is_array()) {
    return Status::corruption("task " + t.id + " in the state database is damaged");
  }
  t.type = *type;
  t.state = *state;
  t.args = std::move(args);
  t.package_dir = row.column_text(4);
  t.script_path = row.column_text(5);
  t.description = row.column_text(6);
  t.memory_mb = row.column_int64(7);
  t.cpu = row.column_int64(8) != 0;
  t.multi_gpu = row.column_int64(9) != 0;
  t.ddp = row.column_int64(10) != 0;
  t.load_ckpt = row.column_int64(11) != 0;
  t.checkpoint_id = row.column_int64(12);
  for (const Json& device : devices) {
    if (!device.is_number_integer()) return Status::corruption("task " + t.id + ": bad devices");
    t.devices.push_back(device.get<int>());
  }
  t.submit_time = row.column_double(14);
  t.start_time = row.column_double(15);
  t.end_time = row.column_double(16);
  if (!row.is_null(17)) t.exit_code = static_cast<int>(row.column_int64(17));
  t.pid = static_cast<int>(row.column_int64(18));
  t.pid_start_ticks = static_cast<uint64_t>(row.column_int64(19));
  t.restarts = static_cast<int>(row.column_int64(20));
  t.max_restarts = static_cast<int>(row.column_int64(21));
  t.error = row.column_text(22);
  t.nproc = static_cast<int>(row.column_int64(23));
  t.project_dir = row.column_text(24);
  t.needs_build = row.column_int64(25) != 0;
  t.delete_requested = row.column_int64(26) != 0;
  t.peak_memory_mb = row.column_int64(27);
  t.memory_source = row.column_text(28);
  t.config_digest = row.column_text(29);
  return t;
}

Result<int> read_schema_version(SqliteDb& db) {
  DLNEST_RETURN_IF_ERROR(
      db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"));
  Result<SqliteStatement> stmt = db.prepare("SELECT version FROM schema_version");
  if (!stmt.is_ok()) return stmt.status();
  Result<bool> row = stmt->step();
  if (!row.is_ok()) return row.status();
  return *row ? static_cast<int>(stmt->column_int64(0)) : 0;
}

// Brings the schema up to kStateSchemaVersion, in one transaction.
Status migrate(SqliteDb& db, const std::string& path) {
  Result<SqliteTransaction> txn = SqliteTransaction::begin(db);
  if (!txn.is_ok()) return txn.status();
  Result<int> version = read_schema_version(db);
  if (!version.is_ok()) return version.status();
  if (*version > kStateSchemaVersion) {
    return Status::failed_precondition(path + " has schema version " + std::to_string(*version) +
                                       "; this DLNest knows versions up to " +
                                       std::to_string(kStateSchemaVersion));
  }
  if (*version == kStateSchemaVersion) return Status::ok();
  for (int v = *version; v < kStateSchemaVersion; ++v) {
    DLNEST_RETURN_IF_ERROR(kMigrations[v](db).with_context("migrating " + path));
  }
  DLNEST_RETURN_IF_ERROR(db.exec("DELETE FROM schema_version"));
  DLNEST_RETURN_IF_ERROR(
      db.exec("INSERT INTO schema_version VALUES (" + std::to_string(kStateSchemaVersion) + ")"));
  return txn->commit();
}

// WAL with synchronous=FULL: docs/state.md says why.
Status configure(SqliteDb& db) {
  sqlite3_busy_timeout(db.handle(), kBusyTimeoutMs);
  Result<SqliteStatement> mode = db.prepare("PRAGMA journal_mode=WAL");
  if (!mode.is_ok()) return mode.status();
  Result<bool> row = mode->step();
  if (!row.is_ok()) return row.status();
  if (!*row || mode->column_text(0) != "wal") {
    return Status::io_error("the state database cannot use write-ahead logging");
  }
  return db.exec("PRAGMA synchronous=FULL");
}

}  // namespace

Result<StateStore> StateStore::open(const std::string& state_dir, Clock clock) {
  DLNEST_RETURN_IF_ERROR(create_private_dirs(state_dir));
  const std::string path = state_dir + "/" + kStateDbName;
  Result<SqliteDb> db = SqliteDb::open(path);
  if (!db.is_ok()) return db.status();
  DLNEST_RETURN_IF_ERROR(configure(*db).with_context(path));
  DLNEST_RETURN_IF_ERROR(migrate(*db, path));
  if (!clock) clock = &system_now;
  return StateStore(std::move(*db), std::move(clock));
}

StateStore::StateStore(StateStore&& other) noexcept
    : db_(std::move(other.db_)), clock_(std::move(other.clock_)) {}

Status StateStore::add(TaskRecord task) {
  std::lock_guard<std::mutex> lock(mu_);
  Result<SqliteTransaction> txn = SqliteTransaction::begin(db_);
  if (!txn.is_ok()) return txn.status();
  DLNEST_RETURN_IF_ERROR(insert_locked(task));
  return txn->commit();
}

Result<std::string> StateStore::add_with_new_id(TaskRecord task) {
  std::lock_guard<std::mutex> lock(mu_);
  Result<SqliteTransaction> txn = SqliteTransaction::begin(db_);
  if (!txn.is_ok()) return txn.status();
  for (;;) {  // a task added by add() may hold the id the counter gives: take the next one
    Result<int64_t> n = next_task_number_locked();
    if (!n.is_ok()) return n.status();
    task.id = format_task_id(task.type, clock_(), *n);
    Status inserted = insert_locked(task);
    if (inserted.code() != Status::Code::kAlreadyExists) {
      DLNEST_RETURN_IF_ERROR(inserted);
      break;
    }
  }
  DLNEST_RETURN_IF_ERROR(txn->commit());
  return task.id;
}

Result<TaskRecord> StateStore::get(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  return get_locked(id);
}

Result<std::vector<TaskRecord>> StateStore::list_all() {
  std::lock_guard<std::mutex> lock(mu_);
  return query_locked("", "");
}

Result<std::vector<TaskRecord>> StateStore::list(TaskState state) {
  std::lock_guard<std::mutex> lock(mu_);
  return query_locked("WHERE state = ?1", task_state_name(state));
}

Result<std::vector<TaskRecord>> StateStore::list_ended(size_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  // Only the newest `limit` rows are read and parsed; then oldest first.
  DLNEST_ASSIGN_OR_RETURN(
      std::vector<TaskRecord> tasks,
      query_locked("WHERE state IN ('Finished', 'Failed', 'Killed')", "",
                   "ORDER BY end_time DESC, seq DESC LIMIT " + std::to_string(limit)));
  std::reverse(tasks.begin(), tasks.end());
  return tasks;
}

Result<bool> StateStore::raise_peak_memory(const std::string& id, int64_t mb) {
  bool raised = false;
  DLNEST_RETURN_IF_ERROR(modify(id, [&](TaskRecord& task) {
    raised = mb > task.peak_memory_mb;
    if (raised) task.peak_memory_mb = mb;
    return Status::ok();
  }));
  return raised;
}

Result<std::optional<TaskRecord>> StateStore::last_peak(const std::string& config_digest) {
  if (config_digest.empty()) return std::optional<TaskRecord>();
  std::lock_guard<std::mutex> lock(mu_);
  DLNEST_ASSIGN_OR_RETURN(
      std::vector<TaskRecord> tasks,
      query_locked("WHERE config_digest = ?1 AND peak_memory_mb > 0", config_digest,
                   "ORDER BY end_time > 0 DESC, seq DESC LIMIT 1"));
  if (tasks.empty()) return std::optional<TaskRecord>();
  return std::optional<TaskRecord>(std::move(tasks.front()));
}

Status StateStore::update_state(const std::string& id, TaskState to) {
  return modify(id, [&](TaskRecord& task) {
    DLNEST_RETURN_IF_ERROR(check_transition(task, to));
    task.state = to;
    return Status::ok();
  });
}

Status StateStore::mark_running(const std::string& id, int pid, uint64_t pid_start_ticks,
                                const std::vector<int>& devices) {
  return mark_started(id, TaskState::kRunning, pid, pid_start_ticks, devices);
}

Status StateStore::mark_building(const std::string& id, int pid, uint64_t pid_start_ticks) {
  return mark_started(id, TaskState::kBuilding, pid, pid_start_ticks, {});
}

Status StateStore::mark_started(const std::string& id, TaskState to, int pid,
                                uint64_t pid_start_ticks, const std::vector<int>& devices) {
  return modify(id, [&](TaskRecord& task) {
    DLNEST_RETURN_IF_ERROR(check_transition(task, to));
    if (task.delete_requested) {
      return Status::failed_precondition("task " + id + " is being deleted");
    }
    task.state = to;
    task.pid = pid;
    task.pid_start_ticks = pid_start_ticks;
    task.devices = devices;
    task.start_time = clock_();
    return Status::ok();
  });
}

Status StateStore::mark_ended(const std::string& id, TaskState state, std::optional<int> exit_code,
                              const std::string& error) {
  if (!is_ended(state)) {
    return Status::invalid_argument(std::string("a task cannot end in state ") +
                                    task_state_name(state));
  }
  return modify(id, [&](TaskRecord& task) {
    DLNEST_RETURN_IF_ERROR(check_transition(task, state));
    task.state = state;
    task.exit_code = exit_code;
    task.error = error;
    task.end_time = clock_();
    return Status::ok();
  });
}

Status StateStore::bump_restarts(const std::string& id) {
  return modify(id, [&](TaskRecord& task) {
    DLNEST_RETURN_IF_ERROR(check_transition(task, TaskState::kPending));
    if (task.restarts >= task.max_restarts) {
      return Status::failed_precondition("task " + id + " has used all its " +
                                         std::to_string(task.max_restarts) + " restarts");
    }
    task.state = TaskState::kPending;
    ++task.restarts;
    task.pid = 0;
    task.pid_start_ticks = 0;
    task.devices.clear();
    task.start_time = 0;
    task.end_time = 0;
    task.exit_code.reset();
    return Status::ok();
  });
}

Status StateStore::requeue(const std::string& id, bool built) {
  return modify(id, [&](TaskRecord& task) {
    if (task.state != TaskState::kBuilding && task.state != TaskState::kRunning) {
      return Status::failed_precondition("task " + id + " is " + task_state_name(task.state) +
                                         ", not building or running");
    }
    task.state = TaskState::kPending;
    if (built) task.needs_build = false;
    task.pid = 0;
    task.pid_start_ticks = 0;
    task.devices.clear();
    task.start_time = 0;
    return Status::ok();
  });
}

Result<TaskState> StateStore::request_delete(const std::string& id) {
  TaskState was = TaskState::kPending;
  Status s = modify(id, [&](TaskRecord& task) {
    was = task.state;
    switch (task.state) {
      case TaskState::kPending:
        task.state = TaskState::kKilled;
        task.error = "deleted while pending";
        task.end_time = clock_();
        return Status::ok();
      case TaskState::kBuilding:
      case TaskState::kRunning:
        task.delete_requested = true;
        return Status::ok();
      default:
        return Status::failed_precondition("task " + id + " has already ended (" +
                                           task_state_name(task.state) + ")");
    }
  });
  if (!s.is_ok()) return s;
  return was;
}

Status StateStore::remove(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  Result<SqliteTransaction> txn = SqliteTransaction::begin(db_);
  if (!txn.is_ok()) return txn.status();
  Result<TaskRecord> task = get_locked(id);
  if (!task.is_ok()) return task.status();
  if (task->state == TaskState::kRunning || task->state == TaskState::kBuilding) {
    return Status::failed_precondition("task " + id + " is " + task_state_name(task->state) +
                                       "; end it before deleting it");
  }
  Result<SqliteStatement> stmt = db_.prepare("DELETE FROM tasks WHERE id = ?1");
  if (!stmt.is_ok()) return stmt.status();
  DLNEST_RETURN_IF_ERROR(stmt->bind(1, id).run());
  return txn->commit();
}

Result<int64_t> StateStore::clear_finished() {
  std::lock_guard<std::mutex> lock(mu_);
  DLNEST_RETURN_IF_ERROR(
      db_.exec("DELETE FROM tasks WHERE state IN ('Finished', 'Failed', 'Killed')"));
  return db_.changes();
}

Status StateStore::modify(const std::string& id, const std::function<Status(TaskRecord&)>& change) {
  std::lock_guard<std::mutex> lock(mu_);
  Result<SqliteTransaction> txn = SqliteTransaction::begin(db_);
  if (!txn.is_ok()) return txn.status();
  Result<TaskRecord> task = get_locked(id);
  if (!task.is_ok()) return task.status();
  DLNEST_RETURN_IF_ERROR(change(*task));
  DLNEST_RETURN_IF_ERROR(write_locked(*task));
  return txn->commit();
}

Status StateStore::check_transition(const TaskRecord& task, TaskState to) const {
  if (is_legal_transition(task.state, to)) return Status::ok();
  return Status::failed_precondition("task " + task.id + " cannot go from " +
                                     task_state_name(task.state) + " to " + task_state_name(to));
}

Result<TaskRecord> StateStore::get_locked(const std::string& id) {
  Result<std::vector<TaskRecord>> found = query_locked("WHERE id = ?1", id);
  if (!found.is_ok()) return found.status();
  if (found->empty()) return Status::not_found("no task with id '" + id + "'");
  return std::move(found->front());
}

Result<std::vector<TaskRecord>> StateStore::query_locked(const std::string& where,
                                                         const std::string& arg,
                                                         const std::string& order) {
  Result<SqliteStatement> stmt =
      db_.prepare("SELECT " + column_list() + " FROM tasks " + where + " " + order);
  if (!stmt.is_ok()) return stmt.status();
  if (where.find("?1") != std::string::npos) stmt->bind(1, arg);
  std::vector<TaskRecord> tasks;
  for (;;) {
    Result<bool> row = stmt->step();
    if (!row.is_ok()) return row.status();
    if (!*row) return tasks;
    Result<TaskRecord> task = task_from_row(*stmt);
    if (!task.is_ok()) return task.status();
    tasks.push_back(std::move(*task));
  }
}

Status StateStore::insert_locked(TaskRecord& task) {
  if (task.state != TaskState::kPending) {
    return Status::invalid_argument("task " + task.id + " must be added as Pending, not " +
                                    task_state_name(task.state));
  }
  if (task.submit_time == 0) task.submit_time = clock_();
  std::string values;
  for (int i = 1; i <= kColumnCount; ++i) values += (i > 1 ? ", ?" : "?") + std::to_string(i);
  Result<SqliteStatement> stmt =
      db_.prepare("INSERT INTO tasks (" + column_list() + ") VALUES (" + values + ")");
  if (!stmt.is_ok()) return stmt.status();
  task_bind(*stmt, task);
  Status status = stmt->run();
  if (status.code() == Status::Code::kAlreadyExists) {
    return Status::already_exists("task " + task.id + " already exists");
  }
  return status;
}

Status StateStore::write_locked(const TaskRecord& task) {
  std::string assignments;
  for (int i = 2; i <= kColumnCount; ++i) {
    assignments += (i > 2 ? ", " : "") + std::string(kColumns[i - 1]) + " = ?" + std::to_string(i);
  }
  Result<SqliteStatement> stmt = db_.prepare("UPDATE tasks SET " + assignments + " WHERE id = ?1");
  if (!stmt.is_ok()) return stmt.status();
  task_bind(*stmt, task);
  return stmt->run();
}

Result<int64_t> StateStore::next_task_number_locked() {
  Result<SqliteStatement> stmt =
      db_.prepare("UPDATE counters SET value = value + 1 WHERE name = 'task_id' RETURNING value");
  if (!stmt.is_ok()) return stmt.status();
  Result<bool> row = stmt->step();
  if (!row.is_ok()) return row.status();
  if (!*row) return Status::corruption("the state database has no task id counter");
  const int64_t n = stmt->column_int64(0);
  DLNEST_RETURN_IF_ERROR(stmt->run());
  return n;
}

}  // namespace dlnest
