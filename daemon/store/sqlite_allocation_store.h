#pragma once
// AllocationStore on an embedded SQLite database (WAL, synchronous=FULL): the single-node default.
// One row per allocated address; the address column is UNIQUE, so even a bug above cannot make
// the database hold one address twice.

#include <memory>
#include <mutex>
#include <string>

#include "daemon/store/sqlite_db.h"
#include "ipam/allocation_store.h"

namespace quasar::daemon {

// The node's ipam::AllocationStore.
class SqliteAllocationStore final : public ipam::AllocationStore {
 public:
  // Opens (creating if needed) the database at `path`; the directory must exist.
  static absl::StatusOr<std::unique_ptr<SqliteAllocationStore>> open(const std::string& path);

  absl::StatusOr<ipam::StoreSnapshot> load(int64_t released_since_unix_ms) override;
  absl::Status commit(std::span<const ipam::Mutation> batch) override;
  std::string describe() const override { return "sqlite:" + path_; }

 private:
  SqliteAllocationStore(std::string path, SqliteDb db)
      : path_(std::move(path)), db_(std::move(db)) {}
  absl::Status apply(const ipam::Mutation& m);

  const std::string path_;
  std::mutex mu_;  // serialises use of db_
  SqliteDb db_;
};

}  // namespace quasar::daemon
