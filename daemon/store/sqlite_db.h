#pragma once
// An SQLite database as quasar's stores open it (WAL, synchronous=FULL, a busy timeout, the
// store's schema), and the statement helpers both SQLite-backed stores use. Not thread-safe:
// each store serialises its own use.

#include <sqlite3.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quasar::daemon {

using SqliteDb = std::unique_ptr<sqlite3, decltype(&sqlite3_close)>;
using SqliteStmt = std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)>;

// Opens (creating if needed) the database at `path` and applies `schema`. Durable: a commit is
// on disk (fsync'd WAL) when it returns, and a crash leaves a transaction whole or absent.
absl::StatusOr<SqliteDb> openSqlite(const std::string& path, const char* schema);
absl::Status sqliteExec(sqlite3* db, const char* sql);
absl::StatusOr<SqliteStmt> sqlitePrepare(sqlite3* db, const char* sql);
// The database's last error, prefixed with what was being done.
absl::Status sqliteError(sqlite3* db, absl::string_view what);
// Text or blob column `i` as bytes ("" for NULL).
std::string sqliteColumn(sqlite3_stmt* s, int i);
void sqliteBind(sqlite3_stmt* s, int i, const std::string& bytes);

}  // namespace quasar::daemon
