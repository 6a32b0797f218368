#include "daemon/store/sqlite_kv_store.h"

#include <chrono>
#include <random>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace quasar::daemon {
namespace {


constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS kv (
  key BLOB PRIMARY KEY, value BLOB NOT NULL, create_rev INTEGER NOT NULL,
  mod_rev INTEGER NOT NULL, version INTEGER NOT NULL, lease INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS leases (id INTEGER PRIMARY KEY, ttl_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (rev INTEGER NOT NULL, seq INTEGER NOT NULL,
  type INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, create_rev INTEGER NOT NULL,
  mod_rev INTEGER NOT NULL, version INTEGER NOT NULL, lease INTEGER NOT NULL,
  PRIMARY KEY (rev, seq));
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('revision', 1);
)sql";

int64_t systemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

KeyValue readKv(sqlite3_stmt* s, int first_col) {
  return {sqliteColumn(s, first_col),
          sqliteColumn(s, first_col + 1),
          sqlite3_column_int64(s, first_col + 2),
          sqlite3_column_int64(s, first_col + 3),
          sqlite3_column_int64(s, first_col + 4),
          sqlite3_column_int64(s, first_col + 5)};
}

bool compareHolds(const Compare& c, const std::optional<KeyValue>& kv) {
  auto cmp = [&](auto a, auto b) {
    switch (c.result) {
      case Compare::Result::kEqual:
        return a == b;
      case Compare::Result::kNotEqual:
        return a != b;
      case Compare::Result::kGreater:
        return a > b;
      case Compare::Result::kLess:
        return a < b;
    }
    return false;
  };
  switch (c.target) {
    case Compare::Target::kVersion:
      return cmp(kv ? kv->version : 0, c.number);
    case Compare::Target::kCreateRevision:
      return cmp(kv ? kv->create_revision : 0, c.number);
    case Compare::Target::kModRevision:
      return cmp(kv ? kv->mod_revision : 0, c.number);
    case Compare::Target::kValue:
      // etcd: a value comparison on an absent key is false.
      return kv && cmp(kv->value, c.value);
  }
  return false;
}

}  // namespace

struct SqliteKvStore::Watcher {
  std::string prefix;
  WatchCallback callback;
  std::deque<std::vector<WatchEvent>> queue;  // under watch_mu_
  std::mutex callback_mu;                     // held while the callback runs
  bool dead = false;                          // under callback_mu
};

class SqliteKvStore::WatchHandle final : public Watch {
 public:
  WatchHandle(SqliteKvStore* store, std::shared_ptr<Watcher> w) : store_(store), w_(std::move(w)) {}
  ~WatchHandle() override { store_->removeWatcher(w_.get()); }

 private:
  SqliteKvStore* store_;
  std::shared_ptr<Watcher> w_;
};

absl::StatusOr<std::unique_ptr<SqliteKvStore>> SqliteKvStore::open(const std::string& path,
                                                                   Clock clock) {
  auto db = openSqlite(path, kSchema);
  if (!db.ok()) return db.status();
  std::unique_ptr<SqliteKvStore> s(
      new SqliteKvStore(path, std::move(*db), clock ? std::move(clock) : Clock(systemNowMs)));
  s->notifier_ = std::thread([p = s.get()] { p->notifierLoop(); });
  s->reaper_ = std::thread([p = s.get()] { p->reaperLoop(); });
  return s;
}

SqliteKvStore::SqliteKvStore(std::string path, SqliteDb db, Clock clock)
    : path_(std::move(path)), clock_(std::move(clock)), db_(std::move(db)) {}

SqliteKvStore::~SqliteKvStore() {
  {
    std::lock_guard lock(watch_mu_);
    stopping_ = true;
  }
  watch_cv_.notify_all();
  if (notifier_.joinable()) notifier_.join();
  if (reaper_.joinable()) reaper_.join();
}

absl::StatusOr<int64_t> SqliteKvStore::revisionLocked() {
  auto s = sqlitePrepare(db_.get(), "SELECT value FROM meta WHERE name = 'revision'");
  if (!s.ok()) return s.status();
  if (sqlite3_step(s->get()) != SQLITE_ROW) return sqliteError(db_.get(), "read revision");
  return sqlite3_column_int64(s->get(), 0);
}

absl::StatusOr<std::vector<KeyValue>> SqliteKvStore::rangeLocked(const std::string& key,
                                                                 bool prefix) {
  const std::string end = prefixRangeEnd(key);
  auto s = sqlitePrepare(
      db_.get(), !prefix       ? "SELECT key, value, create_rev, mod_rev, version, lease FROM kv "
                                 "WHERE key = ?1"
                 : end.empty() ? "SELECT key, value, create_rev, mod_rev, version, lease FROM kv "
                                 "WHERE key >= ?1 ORDER BY key"
                               : "SELECT key, value, create_rev, mod_rev, version, lease FROM kv "
                                 "WHERE key >= ?1 AND key < ?2 ORDER BY key");
  if (!s.ok()) return s.status();
  sqliteBind(s->get(), 1, key);
  if (prefix && !end.empty()) sqliteBind(s->get(), 2, end);
  std::vector<KeyValue> out;
  while (true) {
    const int rc = sqlite3_step(s->get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return sqliteError(db_.get(), "range");
    out.push_back(readKv(s->get(), 0));
  }
  return out;
}

absl::StatusOr<std::optional<KeyValue>> SqliteKvStore::get(const std::string& key) {
  std::lock_guard lock(mu_);
  auto r = rangeLocked(key, false);
  if (!r.ok()) return r.status();
  if (r->empty()) return std::nullopt;
  return r->front();
}

absl::StatusOr<ListResult> SqliteKvStore::list(const std::string& prefix) {
  std::lock_guard lock(mu_);
  auto r = rangeLocked(prefix, true);
  if (!r.ok()) return r.status();
  auto rev = revisionLocked();
  if (!rev.ok()) return rev.status();
  return ListResult{std::move(*r), *rev};
}

absl::StatusOr<int64_t> SqliteKvStore::put(const std::string& key, const std::string& value,
                                           int64_t lease) {
  auto r = txn({}, {Op::put(key, value, lease)}, {});
  if (!r.ok()) return r.status();
  return r->revision;
}

absl::StatusOr<int64_t> SqliteKvStore::del(const std::string& key) {
  std::lock_guard lock(mu_);
  auto existing = rangeLocked(key, false);
  if (!existing.ok()) return existing.status();
  if (existing->empty()) return 0;
  auto r = txnLocked({}, {Op::del(key)}, {});
  if (!r.ok()) return r.status();
  return 1;
}

absl::StatusOr<TxnResult> SqliteKvStore::txn(const std::vector<Compare>& compares,
                                             const std::vector<Op>& then,
                                             const std::vector<Op>& otherwise) {
  std::lock_guard lock(mu_);
  return txnLocked(compares, then, otherwise);
}

absl::StatusOr<TxnResult> SqliteKvStore::txnLocked(const std::vector<Compare>& compares,
                                                   const std::vector<Op>& then,
                                                   const std::vector<Op>& otherwise,
                                                   const LeaseRemoval& remove_leases) {
  if (auto s = sqliteExec(db_.get(), "BEGIN IMMEDIATE"); !s.ok()) return s;
  absl::Cleanup rollback = [this] { sqliteExec(db_.get(), "ROLLBACK").IgnoreError(); };
  auto current = revisionLocked();
  if (!current.ok()) return current.status();
  std::vector<Op> then_ops;
  if (remove_leases) {
    auto dels = remove_leases();
    if (!dels.ok()) return dels.status();
    then_ops = then;
    then_ops.insert(then_ops.end(), dels->begin(), dels->end());
  }
  const std::vector<Op>& then_branch = remove_leases ? then_ops : then;
  TxnResult result;
  result.succeeded = true;
  for (const auto& c : compares) {
    auto kv = rangeLocked(c.key, false);
    if (!kv.ok()) return kv.status();
    std::optional<KeyValue> found;
    if (!kv->empty()) found = kv->front();
    if (!compareHolds(c, found)) {
      result.succeeded = false;
      break;
    }
  }
  const auto& ops = result.succeeded ? then_branch : otherwise;
  const int64_t rev = *current + 1;
  std::vector<WatchEvent> events;
  for (const auto& op : ops) {
    if (op.kind == Op::Kind::kGet) {
      auto kvs = rangeLocked(op.key, op.prefix);
      if (!kvs.ok()) return kvs.status();
      result.gets.push_back(std::move(*kvs));
      continue;
    }
    auto existing = rangeLocked(op.key, op.kind == Op::Kind::kDelete && op.prefix);
    if (!existing.ok()) return existing.status();
    if (op.kind == Op::Kind::kPut) {
      if (op.lease != 0) {
        auto l = sqlitePrepare(db_.get(), "SELECT 1 FROM leases WHERE id = ?");
        if (!l.ok()) return l.status();
        sqlite3_bind_int64(l->get(), 1, op.lease);
        if (sqlite3_step(l->get()) != SQLITE_ROW) {
          return absl::NotFoundError(absl::StrCat("lease ", op.lease, " not found"));
        }
      }
      KeyValue kv{op.key, op.value, rev, rev, 1, op.lease};
      if (!existing->empty()) {
        kv.create_revision = existing->front().create_revision;
        kv.version = existing->front().version + 1;
      }
      auto s = sqlitePrepare(db_.get(),
                             "INSERT OR REPLACE INTO kv (key, value, create_rev, mod_rev, version, "
                             "lease) VALUES (?,?,?,?,?,?)");
      if (!s.ok()) return s.status();
      sqliteBind(s->get(), 1, kv.key);
      sqliteBind(s->get(), 2, kv.value);
      sqlite3_bind_int64(s->get(), 3, kv.create_revision);
      sqlite3_bind_int64(s->get(), 4, kv.mod_revision);
      sqlite3_bind_int64(s->get(), 5, kv.version);
      sqlite3_bind_int64(s->get(), 6, kv.lease);
      if (sqlite3_step(s->get()) != SQLITE_DONE) return sqliteError(db_.get(), "put");
      events.push_back({WatchEvent::Type::kPut, kv});
    } else {
      for (const auto& kv : *existing) {
        auto s = sqlitePrepare(db_.get(), "DELETE FROM kv WHERE key = ?");
        if (!s.ok()) return s.status();
        sqliteBind(s->get(), 1, kv.key);
        if (sqlite3_step(s->get()) != SQLITE_DONE) return sqliteError(db_.get(), "delete");
        events.push_back({WatchEvent::Type::kDelete, {kv.key, "", 0, rev, 0, 0}});
      }
    }
  }
  result.revision = *current;
  if (!events.empty()) {
    result.revision = rev;
    int seq = 0;
    for (const auto& e : events) {
      auto s = sqlitePrepare(db_.get(),
                             "INSERT INTO events (rev, seq, type, key, value, create_rev, mod_rev, "
                             "version, lease) VALUES (?,?,?,?,?,?,?,?,?)");
      if (!s.ok()) return s.status();
      sqlite3_bind_int64(s->get(), 1, rev);
      sqlite3_bind_int64(s->get(), 2, seq++);
      sqlite3_bind_int(s->get(), 3, e.type == WatchEvent::Type::kPut ? 0 : 1);
      sqliteBind(s->get(), 4, e.kv.key);
      sqliteBind(s->get(), 5, e.kv.value);
      sqlite3_bind_int64(s->get(), 6, e.kv.create_revision);
      sqlite3_bind_int64(s->get(), 7, e.kv.mod_revision);
      sqlite3_bind_int64(s->get(), 8, e.kv.version);
      sqlite3_bind_int64(s->get(), 9, e.kv.lease);
      if (sqlite3_step(s->get()) != SQLITE_DONE) return sqliteError(db_.get(), "record event");
    }
    auto bump = sqlitePrepare(db_.get(), "UPDATE meta SET value = ? WHERE name = 'revision'");
    if (!bump.ok()) return bump.status();
    sqlite3_bind_int64(bump->get(), 1, rev);
    if (sqlite3_step(bump->get()) != SQLITE_DONE) return sqliteError(db_.get(), "bump revision");
    auto prune = sqlitePrepare(db_.get(), "DELETE FROM events WHERE rev <= ?");
    if (!prune.ok()) return prune.status();
    sqlite3_bind_int64(prune->get(), 1, rev - kHistory);
    if (sqlite3_step(prune->get()) != SQLITE_DONE) return sqliteError(db_.get(), "prune events");
  }
  if (auto s = sqliteExec(db_.get(), "COMMIT"); !s.ok()) return s;
  std::move(rollback).Cancel();
  if (!events.empty()) {
    std::lock_guard lock(watch_mu_);
    for (auto& w : watchers_) {
      std::vector<WatchEvent> mine;
      for (const auto& e : events) {
        if (absl::StartsWith(e.kv.key, w->prefix)) mine.push_back(e);
      }
      if (!mine.empty()) w->queue.push_back(std::move(mine));
    }
    watch_cv_.notify_all();
  }
  return result;
}

absl::StatusOr<int64_t> SqliteKvStore::grantLease(std::chrono::seconds ttl) {
  if (ttl.count() <= 0) return absl::InvalidArgumentError("lease TTL must be positive");
  std::lock_guard lock(mu_);
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const int64_t id = static_cast<int64_t>(rng() >> 2) + 1;
  auto s = sqlitePrepare(db_.get(), "INSERT INTO leases (id, ttl_ms, expires_ms) VALUES (?,?,?)");
  if (!s.ok()) return s.status();
  const int64_t ttl_ms = ttl.count() * 1000;
  sqlite3_bind_int64(s->get(), 1, id);
  sqlite3_bind_int64(s->get(), 2, ttl_ms);
  sqlite3_bind_int64(s->get(), 3, clock_() + ttl_ms);
  if (sqlite3_step(s->get()) != SQLITE_DONE) return sqliteError(db_.get(), "grant lease");
  return id;
}

absl::Status SqliteKvStore::keepAlive(int64_t lease) {
  std::lock_guard lock(mu_);
  auto s = sqlitePrepare(
      db_.get(), "UPDATE leases SET expires_ms = ? + ttl_ms WHERE id = ? AND expires_ms > ?");
  if (!s.ok()) return s.status();
  const int64_t now = clock_();
  sqlite3_bind_int64(s->get(), 1, now);
  sqlite3_bind_int64(s->get(), 2, lease);
  sqlite3_bind_int64(s->get(), 3, now);
  if (sqlite3_step(s->get()) != SQLITE_DONE) return sqliteError(db_.get(), "keep-alive");
  if (sqlite3_changes(db_.get()) == 0) {
    return absl::NotFoundError(absl::StrCat("lease ", lease, " not found or expired"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Op>> SqliteKvStore::removeLeaseLocked(int64_t id, bool& found) {
  auto keys = sqlitePrepare(db_.get(), "SELECT key FROM kv WHERE lease = ?");
  if (!keys.ok()) return keys.status();
  sqlite3_bind_int64(keys->get(), 1, id);
  std::vector<Op> dels;
  while (true) {
    const int rc = sqlite3_step(keys->get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return sqliteError(db_.get(), "keys of lease");
    dels.push_back(Op::del(sqliteColumn(keys->get(), 0)));
  }
  auto s = sqlitePrepare(db_.get(), "DELETE FROM leases WHERE id = ?");
  if (!s.ok()) return s.status();
  sqlite3_bind_int64(s->get(), 1, id);
  if (sqlite3_step(s->get()) != SQLITE_DONE) return sqliteError(db_.get(), "revoke lease");
  found = sqlite3_changes(db_.get()) != 0 || !dels.empty();
  return dels;
}

absl::Status SqliteKvStore::revokeLease(int64_t lease) {
  std::lock_guard lock(mu_);
  bool found = false;
  auto r = txnLocked({}, {}, {}, [&] { return removeLeaseLocked(lease, found); });
  if (!r.ok()) return r.status();
  if (!found) return absl::NotFoundError(absl::StrCat("lease ", lease, " not found"));
  return absl::OkStatus();
}

absl::Status SqliteKvStore::expireLeases() {
  std::lock_guard lock(mu_);
  // Which leases are due is read inside the transaction that removes them: a keep-alive can
  // never slip in between and see its lease revoked after it was renewed.
  auto r = txnLocked({}, {}, {}, [&]() -> absl::StatusOr<std::vector<Op>> {
    auto s = sqlitePrepare(db_.get(), "SELECT id FROM leases WHERE expires_ms <= ?");
    if (!s.ok()) return s.status();
    sqlite3_bind_int64(s->get(), 1, clock_());
    std::vector<int64_t> due;
    while (true) {
      const int rc = sqlite3_step(s->get());
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return sqliteError(db_.get(), "due leases");
      due.push_back(sqlite3_column_int64(s->get(), 0));
    }
    std::vector<Op> dels;
    for (int64_t id : due) {
      bool found = false;
      auto d = removeLeaseLocked(id, found);
      if (!d.ok()) return d.status();
      dels.insert(dels.end(), d->begin(), d->end());
    }
    return dels;
  });
  return r.status();
}

void SqliteKvStore::reaperLoop() {
  std::unique_lock lock(watch_mu_);
  while (!stopping_) {
    watch_cv_.wait_for(lock, std::chrono::milliseconds(250));
    if (stopping_) return;
    lock.unlock();
    expireLeases().IgnoreError();
    lock.lock();
  }
}

absl::StatusOr<std::unique_ptr<Watch>> SqliteKvStore::watch(const std::string& prefix,
                                                            int64_t start_revision,
                                                            WatchCallback callback) {
  auto w = std::make_shared<Watcher>();
  w->prefix = prefix;
  w->callback = std::move(callback);
  // Under mu_ no write can commit between reading the history and registering the watcher.
  std::lock_guard lock(mu_);
  if (start_revision > 0) {
    auto oldest = sqlitePrepare(db_.get(), "SELECT MIN(rev) FROM events");
    if (!oldest.ok()) return oldest.status();
    sqlite3_step(oldest->get());
    const int64_t first = sqlite3_column_type(oldest->get(), 0) == SQLITE_NULL
                              ? 0
                              : sqlite3_column_int64(oldest->get(), 0);
    auto rev = revisionLocked();
    if (!rev.ok()) return rev.status();
    if (start_revision <= *rev && (first == 0 || start_revision < first) && *rev >= kHistory) {
      return absl::OutOfRangeError(
          absl::StrCat("revision ", start_revision, " is older than the kept history"));
    }
    auto s =
        sqlitePrepare(db_.get(),
                      "SELECT type, key, value, create_rev, mod_rev, version, lease FROM events "
                      "WHERE rev >= ? ORDER BY rev, seq");
    if (!s.ok()) return s.status();
    sqlite3_bind_int64(s->get(), 1, start_revision);
    std::vector<WatchEvent> batch;
    int64_t batch_rev = 0;
    while (sqlite3_step(s->get()) == SQLITE_ROW) {
      WatchEvent e{
          sqlite3_column_int(s->get(), 0) == 0 ? WatchEvent::Type::kPut : WatchEvent::Type::kDelete,
          readKv(s->get(), 1)};
      if (!absl::StartsWith(e.kv.key, prefix)) continue;
      if (!batch.empty() && e.kv.mod_revision != batch_rev) {
        w->queue.push_back(std::move(batch));
        batch.clear();
      }
      batch_rev = e.kv.mod_revision;
      batch.push_back(std::move(e));
    }
    if (!batch.empty()) w->queue.push_back(std::move(batch));
  }
  {
    std::lock_guard wl(watch_mu_);
    watchers_.push_back(w);
  }
  watch_cv_.notify_all();
  return std::unique_ptr<Watch>(new WatchHandle(this, w));
}

void SqliteKvStore::removeWatcher(Watcher* w) {
  std::shared_ptr<Watcher> keep;
  {
    std::lock_guard lock(watch_mu_);
    for (auto it = watchers_.begin(); it != watchers_.end(); ++it) {
      if (it->get() == w) {
        keep = *it;
        watchers_.erase(it);
        break;
      }
    }
  }
  if (keep) {
    std::lock_guard cb(keep->callback_mu);  // waits for a callback in flight
    keep->dead = true;
  }
}

void SqliteKvStore::notifierLoop() {
  std::unique_lock lock(watch_mu_);
  while (true) {
    watch_cv_.wait(lock, [this] {
      if (stopping_) return true;
      for (const auto& w : watchers_) {
        if (!w->queue.empty()) return true;
      }
      return false;
    });
    if (stopping_) return;
    for (auto& w : std::list<std::shared_ptr<Watcher>>(watchers_)) {
      while (!w->queue.empty()) {
        auto batch = std::move(w->queue.front());
        w->queue.pop_front();
        lock.unlock();
        {
          std::lock_guard cb(w->callback_mu);
          if (!w->dead) w->callback(batch, absl::OkStatus());
        }
        lock.lock();
      }
    }
  }
}

}  // namespace quasar::daemon
