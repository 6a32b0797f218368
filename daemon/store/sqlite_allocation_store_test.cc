#include "daemon/store/sqlite_allocation_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace quasar::daemon {
namespace {

using namespace quasar::ipam;

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/quasar-store-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path() const { return dir_ + "/ipam.db"; }
  std::string dir_;
};

Allocation alloc(const char* cid, const char* ip) {
  return {{cid, "eth0"},
          "quasar",
          "/run/netns/x",
          {"ns", "pod", "uid"},
          {*conf::IpAddress::parse(ip)},
          42};
}

TEST_F(SqliteStoreTest, CommittedAllocationsSurviveReopen) {
  {
    auto s = SqliteAllocationStore::open(path());
    ASSERT_TRUE(s.ok()) << s.status();
    std::vector<Mutation> batch{{Mutation::Kind::kPut, alloc("a", "10.0.0.1"), 0},
                                {Mutation::Kind::kPut, alloc("b", "10.0.0.2"), 0}};
    ASSERT_TRUE((*s)->commit(batch).ok());
    std::vector<Mutation> del{{Mutation::Kind::kDelete, alloc("a", "10.0.0.1"), 1000}};
    ASSERT_TRUE((*s)->commit(del).ok());
  }
  auto s = SqliteAllocationStore::open(path());
  ASSERT_TRUE(s.ok());
  auto snap = (*s)->load(500);
  ASSERT_TRUE(snap.ok()) << snap.status();
  ASSERT_EQ(snap->allocations.size(), 1u);
  EXPECT_EQ(snap->allocations[0], alloc("b", "10.0.0.2"));
  ASSERT_EQ(snap->releases.size(), 1u);
  EXPECT_EQ(snap->releases[0].first.toString(), "10.0.0.1");
  EXPECT_EQ(snap->releases[0].second, 1000);
  // Releases older than asked for are not returned.
  EXPECT_TRUE((*s)->load(2000)->releases.empty());
}

TEST_F(SqliteStoreTest, SourceIsRecordedAndOldStoresGainTheColumn) {
  {
    // A store written before address sources existed.
    auto db = openSqlite(path(),
                         "CREATE TABLE allocations (ip TEXT PRIMARY KEY, container_id TEXT NOT "
                         "NULL, ifname TEXT NOT NULL, network TEXT NOT NULL, netns TEXT NOT NULL, "
                         "pod_namespace TEXT NOT NULL, pod_name TEXT NOT NULL, pod_uid TEXT NOT "
                         "NULL, created_ms INTEGER NOT NULL);"
                         "INSERT INTO allocations VALUES ('10.0.0.9','old','eth0','quasar','/n',"
                         "'ns','pod','uid',7);");
    ASSERT_TRUE(db.ok()) << db.status();
  }
  auto s = SqliteAllocationStore::open(path());
  ASSERT_TRUE(s.ok()) << s.status();
  Allocation f = alloc("f", "10.20.0.100");
  f.source = "floating";
  std::vector<Mutation> batch{{Mutation::Kind::kPut, f, 0}};
  ASSERT_TRUE((*s)->commit(batch).ok());
  auto snap = (*s)->load(0);
  ASSERT_TRUE(snap.ok()) << snap.status();
  ASSERT_EQ(snap->allocations.size(), 2u);
  EXPECT_EQ(snap->allocations[0], f);
  EXPECT_EQ(snap->allocations[1].attachment.container_id, "old");
  EXPECT_EQ(snap->allocations[1].source, "");
}

TEST_F(SqliteStoreTest, DuplicateAddressFailsTheWholeBatch) {
  auto s = SqliteAllocationStore::open(path());
  ASSERT_TRUE(s.ok());
  std::vector<Mutation> batch{{Mutation::Kind::kPut, alloc("a", "10.0.0.1"), 0},
                              {Mutation::Kind::kPut, alloc("b", "10.0.0.1"), 0}};
  EXPECT_FALSE((*s)->commit(batch).ok());
  EXPECT_TRUE((*s)->load(0)->allocations.empty());
}

TEST_F(SqliteStoreTest, OpenFailsClearlyForMissingDirectory) {
  auto s = SqliteAllocationStore::open(dir_ + "/missing/ipam.db");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("missing"), std::string::npos);
}

}  // namespace
}  // namespace quasar::daemon
