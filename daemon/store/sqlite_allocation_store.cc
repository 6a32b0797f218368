#include "daemon/store/sqlite_allocation_store.h"

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace quasar::daemon {
namespace {

using conf::Attachment;
using ipam::Allocation;
using ipam::Mutation;
using ipam::StoreSnapshot;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS allocations (
  ip TEXT PRIMARY KEY,
  container_id TEXT NOT NULL,
  ifname TEXT NOT NULL,
  network TEXT NOT NULL,
  netns TEXT NOT NULL,
  pod_namespace TEXT NOT NULL,
  pod_name TEXT NOT NULL,
  pod_uid TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  source TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS allocations_by_attachment ON allocations (container_id, ifname);
CREATE TABLE IF NOT EXISTS releases (
  ip TEXT PRIMARY KEY,
  released_ms INTEGER NOT NULL
);
)sql";

void bindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteAllocationStore>> SqliteAllocationStore::open(
    const std::string& path) {
  auto db = openSqlite(path, kSchema);
  if (!db.ok()) return db.status();
  // Stores written before address sources existed hold only the blocks' allocations.
  auto cols = sqlitePrepare(db->get(),
                            "SELECT 1 FROM pragma_table_info('allocations') "
                            "WHERE name = 'source'");
  if (!cols.ok()) return cols.status();
  if (sqlite3_step(cols->get()) == SQLITE_DONE) {
    if (auto s = sqliteExec(db->get(),
                            "ALTER TABLE allocations ADD COLUMN source TEXT NOT NULL DEFAULT ''");
        !s.ok()) {
      return s;
    }
  }
  return std::unique_ptr<SqliteAllocationStore>(new SqliteAllocationStore(path, std::move(*db)));
}

absl::StatusOr<StoreSnapshot> SqliteAllocationStore::load(int64_t released_since_unix_ms) {
  std::lock_guard lock(mu_);
  StoreSnapshot snap;
  auto rows = sqlitePrepare(
      db_.get(),
      "SELECT ip, container_id, ifname, network, netns, pod_namespace, pod_name, "
      "pod_uid, created_ms, source FROM allocations ORDER BY container_id, ifname, rowid");
  if (!rows.ok()) return rows.status();
  while (true) {
    const int rc = sqlite3_step(rows->get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return sqliteError(db_.get(), "load allocations");
    sqlite3_stmt* s = rows->get();
    auto ip = conf::IpAddress::parse(sqliteColumn(s, 0));
    if (!ip.ok())
      return absl::DataLossError(absl::StrCat("allocations table: ", ip.status().message()));
    Attachment key{sqliteColumn(s, 1), sqliteColumn(s, 2)};
    if (snap.allocations.empty() || snap.allocations.back().attachment != key) {
      Allocation a;
      a.attachment = key;
      a.network = sqliteColumn(s, 3);
      a.netns = sqliteColumn(s, 4);
      a.pod = {sqliteColumn(s, 5), sqliteColumn(s, 6), sqliteColumn(s, 7)};
      a.created_unix_ms = sqlite3_column_int64(s, 8);
      a.source = sqliteColumn(s, 9);
      snap.allocations.push_back(std::move(a));
    }
    snap.allocations.back().ips.push_back(*ip);
  }
  auto rel =
      sqlitePrepare(db_.get(), "SELECT ip, released_ms FROM releases WHERE released_ms >= ?");
  if (!rel.ok()) return rel.status();
  sqlite3_bind_int64(rel->get(), 1, released_since_unix_ms);
  while (true) {
    const int rc = sqlite3_step(rel->get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return sqliteError(db_.get(), "load releases");
    auto ip = conf::IpAddress::parse(sqliteColumn(rel->get(), 0));
    if (!ip.ok())
      return absl::DataLossError(absl::StrCat("releases table: ", ip.status().message()));
    snap.releases.emplace_back(*ip, sqlite3_column_int64(rel->get(), 1));
  }
  // Old releases matter to nobody any more.
  auto prune = sqlitePrepare(db_.get(), "DELETE FROM releases WHERE released_ms < ?");
  if (!prune.ok()) return prune.status();
  sqlite3_bind_int64(prune->get(), 1, released_since_unix_ms);
  if (sqlite3_step(prune->get()) != SQLITE_DONE) return sqliteError(db_.get(), "prune releases");
  return snap;
}

absl::Status SqliteAllocationStore::apply(const Mutation& m) {
  const Allocation& a = m.allocation;
  if (m.kind == Mutation::Kind::kPut) {
    auto ins = sqlitePrepare(
        db_.get(),
        "INSERT INTO allocations (ip, container_id, ifname, network, netns, "
        "pod_namespace, pod_name, pod_uid, created_ms, source) VALUES (?,?,?,?,?,?,?,?,?,?)");
    auto unrelease = sqlitePrepare(db_.get(), "DELETE FROM releases WHERE ip = ?");
    if (!ins.ok()) return ins.status();
    if (!unrelease.ok()) return unrelease.status();
    for (const auto& ip : a.ips) {
      sqlite3_stmt* s = ins->get();
      sqlite3_reset(s);
      bindText(s, 1, ip.toString());
      bindText(s, 2, a.attachment.container_id);
      bindText(s, 3, a.attachment.ifname);
      bindText(s, 4, a.network);
      bindText(s, 5, a.netns);
      bindText(s, 6, a.pod.namespace_);
      bindText(s, 7, a.pod.name);
      bindText(s, 8, a.pod.uid);
      sqlite3_bind_int64(s, 9, a.created_unix_ms);
      bindText(s, 10, a.source);
      if (sqlite3_step(s) != SQLITE_DONE) {
        return sqliteError(db_.get(), absl::StrCat("insert ", ip.toString()));
      }
      sqlite3_reset(unrelease->get());
      bindText(unrelease->get(), 1, ip.toString());
      if (sqlite3_step(unrelease->get()) != SQLITE_DONE) return sqliteError(db_.get(), "unrelease");
    }
    return absl::OkStatus();
  }
  auto del =
      sqlitePrepare(db_.get(), "DELETE FROM allocations WHERE container_id = ? AND ifname = ?");
  auto rel =
      sqlitePrepare(db_.get(), "INSERT OR REPLACE INTO releases (ip, released_ms) VALUES (?, ?)");
  if (!del.ok()) return del.status();
  if (!rel.ok()) return rel.status();
  bindText(del->get(), 1, a.attachment.container_id);
  bindText(del->get(), 2, a.attachment.ifname);
  if (sqlite3_step(del->get()) != SQLITE_DONE) return sqliteError(db_.get(), "delete allocation");
  for (const auto& ip : a.ips) {
    sqlite3_reset(rel->get());
    bindText(rel->get(), 1, ip.toString());
    sqlite3_bind_int64(rel->get(), 2, m.released_unix_ms);
    if (sqlite3_step(rel->get()) != SQLITE_DONE) return sqliteError(db_.get(), "record release");
  }
  return absl::OkStatus();
}

absl::Status SqliteAllocationStore::commit(std::span<const Mutation> batch) {
  std::lock_guard lock(mu_);
  if (auto s = sqliteExec(db_.get(), "BEGIN IMMEDIATE"); !s.ok()) return s;
  absl::Cleanup rollback = [this] { sqliteExec(db_.get(), "ROLLBACK").IgnoreError(); };
  for (const auto& m : batch) {
    if (auto s = apply(m); !s.ok()) return s;
  }
  if (auto s = sqliteExec(db_.get(), "COMMIT"); !s.ok()) return s;
  std::move(rollback).Cancel();
  return absl::OkStatus();
}

}  // namespace quasar::daemon
