#include "daemon/cluster/block_reclaimer.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "daemon/store/sqlite_kv_store.h"
#include "daemon/store/sqlite_allocation_store.h"

namespace quasar::daemon {
namespace {

TEST(BlockReclaimer, GivesBackIdleBlocksAfterTheGraceButKeepsOne) {
  char tmpl[] = "/tmp/quasar-reclaim-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  {
    auto kv = SqliteKvStore::open(dir + "/cluster.db");
    auto alloc_store = SqliteAllocationStore::open(dir + "/ipam.db");
    ASSERT_TRUE(kv.ok() && alloc_store.ok());
    BlockManager blocks(**kv, "n1", *conf::IpPrefix::parse("10.8.0.0/28"), 30);
    ipam::AddressManager::Options o;
    o.release_cooldown_ms = 0;
    o.claim_range = [&] { return blocks.claim(); };
    auto m = ipam::AddressManager::create(o, **alloc_store, [] { return int64_t{0}; });
    ASSERT_TRUE(m.ok()) << m.status();
    // Four addresses: two /30 blocks.
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE((*m)->allocate({{"c" + std::to_string(i), "eth0"}, "n", "/ns", {}, {}}).ok());
    }
    ASSERT_EQ(blocks.owned()->size(), 2u);
    BlockReclaimer reclaimer(**m, blocks, std::chrono::milliseconds(1000));
    EXPECT_TRUE(reclaimer.tick(0).empty()) << "blocks in use are kept";
    for (int i = 0; i < 4; ++i) ASSERT_TRUE((*m)->release({"c" + std::to_string(i), "eth0"}).ok());
    EXPECT_TRUE(reclaimer.tick(10).empty()) << "idle, but not for the grace period yet";
    EXPECT_TRUE(reclaimer.tick(900).empty());
    auto released = reclaimer.tick(1010);
    ASSERT_EQ(released.size(), 1u) << "one block goes, the last one stays";
    EXPECT_EQ(blocks.owned()->size(), 1u);
    EXPECT_EQ((*m)->stats().size(), 1u);
    EXPECT_TRUE(reclaimer.tick(5000).empty());
    // The released block can be claimed again, by anyone.
    BlockManager other(**kv, "n2", *conf::IpPrefix::parse("10.8.0.0/28"), 30);
    std::set<std::string> got;
    for (int i = 0; i < 3; ++i) got.insert(other.claim()->toString());
    EXPECT_TRUE(got.contains(released[0].toString()));
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace quasar::daemon
