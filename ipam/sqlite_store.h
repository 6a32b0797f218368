#pragma once
// AllocationStore on an embedded SQLite database (WAL, synchronous=FULL): the single-node default.
// One row per allocated address; the address column is UNIQUE, so even a bug above cannot make
// the database hold one address twice.

#include <memory>
#include <mutex>
#include <string>

#include "ipam/allocation_store.h"
#include "ipam/sqlite_db.h"

namespace quasar::ipam {

class SqliteStore final : public AllocationStore {
 public:
  // Opens (creating if needed) the database at `path`; the directory must exist.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> open(const std::string& path);

  absl::StatusOr<StoreSnapshot> load(int64_t released_since_unix_ms) override;
  absl::Status commit(std::span<const Mutation> batch) override;
  std::string describe() const override { return "sqlite:" + path_; }

 private:
  SqliteStore(std::string path, SqliteDb db) : path_(std::move(path)), db_(std::move(db)) {}
  absl::Status apply(const Mutation& m);

  const std::string path_;
  std::mutex mu_;  // serialises use of db_
  SqliteDb db_;
};

}  // namespace quasar::ipam
