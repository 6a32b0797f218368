#pragma once
// Store on an embedded SQLite database: the single-node default. Keeps etcd's semantics: one
// revision per write, create/mod revisions and versions per key, leases whose expiry deletes
// their keys (checked every 250 ms), and an event history (the last kHistory revisions) from
// which a watch can resume. Durable: WAL, synchronous=FULL.
//
// Threading: one mutex serialises the database; watch callbacks run on the store's notifier
// thread, never under the mutex.

#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <thread>

#include "daemon/store/store.h"
#include "daemon/store/sqlite_db.h"

namespace quasar::daemon {

class SqliteKvStore final : public Store {
 public:
  static constexpr int64_t kHistory = 10000;
  using Clock = std::function<int64_t()>;  // unix ms; injected for lease tests

  static absl::StatusOr<std::unique_ptr<SqliteKvStore>> open(const std::string& path,
                                                             Clock clock = nullptr);
  ~SqliteKvStore() override;

  absl::StatusOr<std::optional<KeyValue>> get(const std::string& key) override;
  absl::StatusOr<ListResult> list(const std::string& prefix) override;
  absl::StatusOr<int64_t> put(const std::string& key, const std::string& value,
                              int64_t lease) override;
  absl::StatusOr<int64_t> del(const std::string& key) override;
  absl::StatusOr<TxnResult> txn(const std::vector<Compare>& compares, const std::vector<Op>& then,
                                const std::vector<Op>& otherwise) override;
  absl::StatusOr<int64_t> grantLease(std::chrono::seconds ttl) override;
  absl::Status keepAlive(int64_t lease) override;
  absl::Status revokeLease(int64_t lease) override;
  absl::StatusOr<std::unique_ptr<Watch>> watch(const std::string& prefix, int64_t start_revision,
                                               WatchCallback callback) override;
  std::string describe() const override { return "sqlite:" + path_; }

  // Expires due leases now (the reaper does it every 250 ms). Public for tests.
  absl::Status expireLeases();

 private:
  struct Watcher;
  class WatchHandle;
  SqliteKvStore(std::string path, SqliteDb db, Clock clock);

  // Removes lease rows inside an open write transaction and returns the deletes of their keys.
  using LeaseRemoval = std::function<absl::StatusOr<std::vector<Op>>()>;
  // Under mu_: one write transaction at the next revision. Events are queued for watchers.
  // `remove_leases`, when given, runs first inside the same transaction and its deletes join
  // `then` (no compares are allowed with it), so a lease and its keys go together or not at all.
  absl::StatusOr<TxnResult> txnLocked(const std::vector<Compare>& compares,
                                      const std::vector<Op>& then, const std::vector<Op>& otherwise,
                                      const LeaseRemoval& remove_leases = nullptr);
  // Under mu_, inside a write transaction: deletes lease `id`'s row and returns the deletes of
  // its keys; `found` tells whether the lease existed.
  absl::StatusOr<std::vector<Op>> removeLeaseLocked(int64_t id, bool& found);
  absl::StatusOr<std::vector<KeyValue>> rangeLocked(const std::string& key, bool prefix);
  absl::StatusOr<int64_t> revisionLocked();
  void notifierLoop();
  void reaperLoop();
  void removeWatcher(Watcher* w);

  const std::string path_;
  Clock clock_;
  std::mutex mu_;
  SqliteDb db_;
  // Watchers and the queue of committed events waiting to be delivered.
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  std::list<std::shared_ptr<Watcher>> watchers_;
  std::deque<std::vector<WatchEvent>> pending_;
  bool stopping_ = false;
  std::thread notifier_;
  std::thread reaper_;
};

}  // namespace quasar::daemon
