#include "state/sqlite_db.h"

#include <utility>

namespace dlnest {

Status sqlite_status(sqlite3* db, int code, const std::string& what) {
  const std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  const std::string message = what + ": " + detail;
  switch (code & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::corruption(message);
    case SQLITE_CONSTRAINT:
      if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return Status::already_exists(message);
      }
      return Status::invalid_argument(message);
    default:
      return Status::io_error(message);
  }
}

SqliteStatement::SqliteStatement(sqlite3_stmt* stmt, std::string sql)
    : stmt_(stmt), sql_(std::move(sql)) {}

SqliteStatement& SqliteStatement::bind(int index, int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_.get(), index, value);
  if (bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

SqliteStatement& SqliteStatement::bind(int index, double value) {
  const int rc = sqlite3_bind_double(stmt_.get(), index, value);
  if (bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

SqliteStatement& SqliteStatement::bind(int index, const std::string& value) {
  const int rc = sqlite3_bind_text(stmt_.get(), index, value.data(), static_cast<int>(value.size()),
                                   SQLITE_TRANSIENT);
  if (bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

SqliteStatement& SqliteStatement::bind_null(int index) {
  const int rc = sqlite3_bind_null(stmt_.get(), index);
  if (bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

Result<bool> SqliteStatement::step() {
  sqlite3* db = sqlite3_db_handle(stmt_.get());
  if (bind_error_ != SQLITE_OK) return sqlite_status(db, bind_error_, "binding '" + sql_ + "'");
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_status(db, rc, "running '" + sql_ + "'");
}

Status SqliteStatement::run() {
  for (;;) {
    Result<bool> row = step();
    if (!row.is_ok()) return row.status();
    if (!*row) return Status::ok();
  }
}

bool SqliteStatement::is_null(int column) const {
  return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL;
}

int64_t SqliteStatement::column_int64(int column) const {
  return sqlite3_column_int64(stmt_.get(), column);
}

double SqliteStatement::column_double(int column) const {
  return sqlite3_column_double(stmt_.get(), column);
}

std::string SqliteStatement::column_text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), column));
  if (text == nullptr) return "";
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), column)));
}

Result<SqliteDb> SqliteDb::open(const std::string& path) {
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  SqliteDb db(raw);  // owns the handle even when opening failed
  if (rc != SQLITE_OK) return sqlite_status(raw, rc, "opening " + path);
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

Status SqliteDb::exec(const std::string& sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &error);
  sqlite3_free(error);  // the same text as sqlite3_errmsg, which sqlite_status reads
  if (rc != SQLITE_OK) return sqlite_status(db_.get(), rc, "running '" + sql + "'");
  return Status::ok();
}

Result<SqliteStatement> SqliteDb::prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc =
      sqlite3_prepare_v2(db_.get(), sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return sqlite_status(db_.get(), rc, "preparing '" + sql + "'");
  return SqliteStatement(stmt, sql);
}

int64_t SqliteDb::changes() const {
  return sqlite3_changes64(db_.get());
}

Result<SqliteTransaction> SqliteTransaction::begin(SqliteDb& db) {
  DLNEST_RETURN_IF_ERROR(db.exec("BEGIN IMMEDIATE"));
  return SqliteTransaction(&db);
}

SqliteTransaction::SqliteTransaction(SqliteTransaction&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)) {}

SqliteTransaction::~SqliteTransaction() {
  if (db_ != nullptr) db_->exec("ROLLBACK");
}

Status SqliteTransaction::commit() {
  Status status = db_->exec("COMMIT");
  if (status.is_ok()) db_ = nullptr;
  return status;
}

}  // namespace dlnest
