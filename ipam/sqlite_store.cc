#include "ipam/sqlite_store.h"

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace quasar::ipam {
namespace {

using Stmt = std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)>;

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
  created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS allocations_by_attachment ON allocations (container_id, ifname);
CREATE TABLE IF NOT EXISTS releases (
  ip TEXT PRIMARY KEY,
  released_ms INTEGER NOT NULL
);
)sql";

absl::Status dbError(sqlite3* db, absl::string_view what) {
  return absl::InternalError(absl::StrCat("sqlite ", what, ": ", sqlite3_errmsg(db)));
}

absl::StatusOr<Stmt> prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
    return dbError(db, absl::StrCat("prepare \"", sql, "\""));
  }
  return Stmt(raw, &sqlite3_finalize);
}

void bindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string column(sqlite3_stmt* s, int i) {
  const auto* t = sqlite3_column_text(s, i);
  return t ? reinterpret_cast<const char*>(t) : "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw, &sqlite3_close);
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(
        absl::StrCat("open ", path, ": ", raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(path, std::move(db)));
  // WAL plus synchronous=FULL: a commit is on disk (fsync'd WAL) when commit() returns, and a
  // crash at any point leaves either the whole transaction or none of it.
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                          "PRAGMA busy_timeout=5000", kSchema}) {
    if (auto s = store->exec(sql); !s.ok()) return s;
  }
  return store;
}

absl::Status SqliteStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return absl::InternalError(absl::StrCat("sqlite ", path_, ": ", msg));
  }
  return absl::OkStatus();
}

absl::StatusOr<StoreSnapshot> SqliteStore::load(int64_t released_since_unix_ms) {
  std::lock_guard lock(mu_);
  StoreSnapshot snap;
  auto rows = prepare(db_.get(),
                      "SELECT ip, container_id, ifname, network, netns, pod_namespace, pod_name, "
                      "pod_uid, created_ms FROM allocations ORDER BY container_id, ifname, rowid");
  if (!rows.ok()) return rows.status();
  while (true) {
    const int rc = sqlite3_step(rows->get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return dbError(db_.get(), "load allocations");
    sqlite3_stmt* s = rows->get();
    auto ip = conf::IpAddress::parse(column(s, 0));
    if (!ip.ok())
      return absl::DataLossError(absl::StrCat("allocations table: ", ip.status().message()));
    Attachment key{column(s, 1), column(s, 2)};
    if (snap.allocations.empty() || snap.allocations.back().attachment != key) {
      Allocation a;
      a.attachment = key;
      a.network = column(s, 3);
      a.netns = column(s, 4);
      a.pod = {column(s, 5), column(s, 6), column(s, 7)};
      a.created_unix_ms = sqlite3_column_int64(s, 8);
      snap.allocations.push_back(std::move(a));
    }
    snap.allocations.back().ips.push_back(*ip);
  }
  auto rel = prepare(db_.get(), "SELECT ip, released_ms FROM releases WHERE released_ms >= ?");
  if (!rel.ok()) return rel.status();
  sqlite3_bind_int64(rel->get(), 1, released_since_unix_ms);
  while (true) {
    const int rc = sqlite3_step(rel->get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return dbError(db_.get(), "load releases");
    auto ip = conf::IpAddress::parse(column(rel->get(), 0));
    if (!ip.ok())
      return absl::DataLossError(absl::StrCat("releases table: ", ip.status().message()));
    snap.releases.emplace_back(*ip, sqlite3_column_int64(rel->get(), 1));
  }
  // Old releases matter to nobody any more.
  auto prune = prepare(db_.get(), "DELETE FROM releases WHERE released_ms < ?");
  if (!prune.ok()) return prune.status();
  sqlite3_bind_int64(prune->get(), 1, released_since_unix_ms);
  if (sqlite3_step(prune->get()) != SQLITE_DONE) return dbError(db_.get(), "prune releases");
  return snap;
}

absl::Status SqliteStore::apply(const Mutation& m) {
  const Allocation& a = m.allocation;
  if (m.kind == Mutation::Kind::kPut) {
    auto ins = prepare(db_.get(),
                       "INSERT INTO allocations (ip, container_id, ifname, network, netns, "
                       "pod_namespace, pod_name, pod_uid, created_ms) VALUES (?,?,?,?,?,?,?,?,?)");
    auto unrelease = prepare(db_.get(), "DELETE FROM releases WHERE ip = ?");
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
      if (sqlite3_step(s) != SQLITE_DONE) {
        return dbError(db_.get(), absl::StrCat("insert ", ip.toString()));
      }
      sqlite3_reset(unrelease->get());
      bindText(unrelease->get(), 1, ip.toString());
      if (sqlite3_step(unrelease->get()) != SQLITE_DONE) return dbError(db_.get(), "unrelease");
    }
    return absl::OkStatus();
  }
  auto del = prepare(db_.get(), "DELETE FROM allocations WHERE container_id = ? AND ifname = ?");
  auto rel = prepare(db_.get(), "INSERT OR REPLACE INTO releases (ip, released_ms) VALUES (?, ?)");
  if (!del.ok()) return del.status();
  if (!rel.ok()) return rel.status();
  bindText(del->get(), 1, a.attachment.container_id);
  bindText(del->get(), 2, a.attachment.ifname);
  if (sqlite3_step(del->get()) != SQLITE_DONE) return dbError(db_.get(), "delete allocation");
  for (const auto& ip : a.ips) {
    sqlite3_reset(rel->get());
    bindText(rel->get(), 1, ip.toString());
    sqlite3_bind_int64(rel->get(), 2, m.released_unix_ms);
    if (sqlite3_step(rel->get()) != SQLITE_DONE) return dbError(db_.get(), "record release");
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::commit(std::span<const Mutation> batch) {
  std::lock_guard lock(mu_);
  if (auto s = exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  absl::Cleanup rollback = [this] { exec("ROLLBACK").IgnoreError(); };
  for (const auto& m : batch) {
    if (auto s = apply(m); !s.ok()) return s;
  }
  if (auto s = exec("COMMIT"); !s.ok()) return s;
  std::move(rollback).Cancel();
  return absl::OkStatus();
}

}  // namespace quasar::ipam
