// A thin RAII layer over SQLite's C API: a connection, prepared statements and transactions,
// with SQLite's result codes turned into Status values.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

#include "dlnest/status.h"

namespace dlnest {

/// One prepared statement; finalized when destroyed. Bind errors are kept and reported by step().
class SqliteStatement {
 public:
  SqliteStatement(sqlite3_stmt* stmt, std::string sql);

  /// Binds the 1-based parameter `index`. Returns *this so that binds chain.
  SqliteStatement& bind(int index, int64_t value);
  SqliteStatement& bind(int index, double value);
  SqliteStatement& bind(int index, const std::string& value);
  SqliteStatement& bind_null(int index);

  /// Runs one step: true when a row is ready, false when the statement is done.
  Result<bool> step();
  /// Runs the statement to completion, ignoring rows.
  Status run();

  bool is_null(int column) const;
  int64_t column_int64(int column) const;
  double column_double(int column) const;
  std::string column_text(int column) const;

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
  };
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
  std::string sql_;
  int bind_error_ = SQLITE_OK;
};

/// An open database connection; closed when destroyed.
class SqliteDb {
 public:
  /// Opens (creating if needed) the database file at `path` for reading and writing.
  static Result<SqliteDb> open(const std::string& path);

  /// Runs one or more statements that take no parameters.
  Status exec(const std::string& sql);
  /// Compiles `sql` (one statement).
  Result<SqliteStatement> prepare(const std::string& sql);
  /// Rows changed by the latest INSERT, UPDATE or DELETE.
  int64_t changes() const;
  sqlite3* handle() const { return db_.get(); }

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  std::unique_ptr<sqlite3, Closer> db_;
};

/// A write transaction taken at once (BEGIN IMMEDIATE), so that a read-modify-write never fails
/// half way for want of the write lock; rolled back when destroyed without commit().
class SqliteTransaction {
 public:
  /// Begins the transaction on `db`, waiting up to the busy timeout for other writers.
  static Result<SqliteTransaction> begin(SqliteDb& db);
  SqliteTransaction(SqliteTransaction&& other) noexcept;
  SqliteTransaction& operator=(SqliteTransaction&&) = delete;
  ~SqliteTransaction();

  Status commit();

 private:
  explicit SqliteTransaction(SqliteDb* db) : db_(db) {}
  SqliteDb* db_;  ///< nullptr once committed or rolled back
};

/// The Status for SQLite result `code` on `db` (may be null) while doing `what`: Corruption for
/// a damaged file, AlreadyExists for a uniqueness violation, InvalidArgument for another
/// constraint, IOError otherwise.
Status sqlite_status(sqlite3* db, int code, const std::string& what);

}  // namespace dlnest
