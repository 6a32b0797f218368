#include "daemon/cluster/stale_block_reclaimer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "daemon/cluster/block_manager.h"
#include "daemon/cluster/block_reclaimer.h"
#include "daemon/cluster/cluster_keys.h"
#include "daemon/cluster/node_registry.h"
#include "daemon/store/sqlite_kv_store.h"
#include "daemon/store/sqlite_allocation_store.h"

namespace quasar::daemon {
namespace {

using namespace std::chrono_literals;

class StaleBlockReclaimerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/quasar-stale-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // The datastore's clock is the test's: leases expire when the test says so.
    auto kv = SqliteKvStore::open(dir_ + "/cluster.db", [this] { return store_ms_.load(); });
    ASSERT_TRUE(kv.ok()) << kv.status();
    kv_ = std::move(*kv);
  }
  void TearDown() override {
    kv_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<NodeRegistry> join(const std::string& name) {
    auto r = std::make_unique<NodeRegistry>(*kv_, NodeRecord{name, "", "", "", {}}, 2s);
    EXPECT_TRUE(r->start().ok());
    return r;
  }
  // The node stops renewing (a crash) and its lease runs out.
  void crash(NodeRegistry& r) {
    r.stop(/*revoke=*/false);
    store_ms_ += 3000;
    ASSERT_TRUE(kv_->expireLeases().ok());
  }
  bool live(const std::string& name) { return (*kv_->get(keys::live(name))).has_value(); }

  const conf::IpPrefix cidr_ = *conf::IpPrefix::parse("10.8.0.0/28");  // four /30 blocks
  std::string dir_;
  std::atomic<int64_t> store_ms_{1'000'000};
  std::unique_ptr<SqliteKvStore> kv_;
};

TEST_F(StaleBlockReclaimerTest, ALiveNodeKeepsItsBlocksHoweverLong) {
  auto n = join("n");
  BlockManager blocks(*kv_, "n", cidr_, 30);
  ASSERT_TRUE(blocks.claim().ok());
  StaleBlockReclaimer reclaimer(*kv_, "s", 1000ms);
  EXPECT_TRUE(reclaimer.tick(0)->empty());
  EXPECT_TRUE(reclaimer.tick(1'000'000)->empty());
  EXPECT_EQ(blocks.owned()->size(), 1u);
  n->stop(/*revoke=*/true);
}

TEST_F(StaleBlockReclaimerTest, ANodeThatCameBackUnseenBetweenTwoPassesRestartsTheGrace) {
  auto n = join("n");
  BlockManager blocks(*kv_, "n", cidr_, 30);
  ASSERT_TRUE(blocks.claim().ok());
  crash(*n);
  ASSERT_FALSE(live("n"));
  StaleBlockReclaimer reclaimer(*kv_, "s", 1000ms);
  EXPECT_TRUE(reclaimer.tick(0)->empty());
  // Back, and gone again, between two passes: the reclaimer never saw it live.
  n = join("n");
  crash(*n);
  EXPECT_TRUE(reclaimer.tick(1001)->empty()) << "the node was alive less than a grace ago";
  EXPECT_EQ(blocks.owned()->size(), 1u);
  auto got = reclaimer.tick(2002);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->size(), 1u);
  EXPECT_TRUE(blocks.owned()->empty());
}

TEST_F(StaleBlockReclaimerTest, ANodeBackAfterItsBlocksWereReclaimedHandsNothingOutFromThem) {
  auto ipam_store = SqliteAllocationStore::open(dir_ + "/ipam.db");
  ASSERT_TRUE(ipam_store.ok());
  auto n = join("n");
  BlockManager blocks(*kv_, "n", cidr_, 30);
  ipam::AddressManager::Options o;
  o.release_cooldown_ms = 0;
  o.claim_range = [&] { return blocks.claim(); };
  auto m = ipam::AddressManager::create(o, **ipam_store, [] { return int64_t{1}; });
  ASSERT_TRUE(m.ok()) << m.status();
  auto pod = (*m)->allocate({{"pod", "eth0"}, "n", "/ns", {}, {}});
  ASSERT_TRUE(pod.ok()) << pod.status();
  const auto lost_block = blocks.owned()->front();

  crash(*n);
  auto s = join("s");
  StaleBlockReclaimer reclaimer(*kv_, "s", 1000ms);
  ASSERT_TRUE(reclaimer.tick(0)->empty());
  ASSERT_EQ(reclaimer.tick(1001)->size(), 1u);
  // The survivor takes every block, the reclaimed one among them.
  BlockManager survivor(*kv_, "s", cidr_, 30);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(survivor.claim().ok());

  n = join("n");
  auto lost = dropLostBlocks(blocks, **m);
  ASSERT_TRUE(lost.ok()) << lost.status();
  EXPECT_EQ(*lost, std::vector<conf::IpPrefix>{lost_block});
  auto next = (*m)->allocate({{"next", "eth0"}, "n", "/ns", {}, {}});
  EXPECT_TRUE(absl::IsResourceExhausted(next.status()))
      << "handed out from a block the node lost: " << next.status();
  // The pod that holds an address there keeps it, and can let it go.
  EXPECT_TRUE((*m)->get({"pod", "eth0"}).ok());
  EXPECT_TRUE((*m)->release({"pod", "eth0"}).ok());
  n->stop(true);
  s->stop(true);
}

// A node whose lease ran out registers again and then verifies its blocks (quasard drops the
// lost ones) before the registration counts as confirmed; a verification that fails is run
// again on the next renewal.
TEST_F(StaleBlockReclaimerTest, ARegistryThatRegisteredAgainVerifiesBeforeItConfirms) {
  auto n = join("n");
  std::mutex mu;
  std::vector<bool> live_at_call;
  n->setOnReRegistered([&]() -> absl::Status {
    std::lock_guard lock(mu);
    live_at_call.push_back(live("n"));
    if (live_at_call.size() == 1) return absl::UnavailableError("injected: datastore read failed");
    return absl::OkStatus();
  });
  EXPECT_LT(n->sinceConfirmed(), 1000ms);
  store_ms_ += 3000;  // the lease runs out (the keep-alive thread finds it gone)
  ASSERT_TRUE(kv_->expireLeases().ok());
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mu);
      if (live_at_call.size() >= 2 && n->sinceConfirmed() < 500ms) break;
    }
    std::this_thread::sleep_for(20ms);
  }
  {
    std::lock_guard lock(mu);
    ASSERT_GE(live_at_call.size(), 2u) << "the verification did not run again after failing";
    for (bool l : live_at_call) EXPECT_TRUE(l) << "verified before the node was registered";
  }
  EXPECT_TRUE(live("n"));
  EXPECT_LT(n->sinceConfirmed(), 500ms) << "confirmed again once verified";
  n->stop(true);
}

}  // namespace
}  // namespace quasar::daemon
