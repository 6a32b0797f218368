#include "ipam/address_manager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "ipam/memory_allocation_store.h"

namespace quasar::ipam {
namespace {

// The store under test with a commit that takes a millisecond.
class SlowDisk final : public AllocationStore {
 public:
  explicit SlowDisk(AllocationStore& inner) : inner_(inner) {}
  absl::StatusOr<StoreSnapshot> load(int64_t released_since_unix_ms) override {
    return inner_.load(released_since_unix_ms);
  }
  absl::Status commit(std::span<const Mutation> batch) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return inner_.commit(batch);
  }
  std::string describe() const override { return inner_.describe(); }

 private:
  AllocationStore& inner_;
};

class AddressManagerTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }
  void TearDown() override {
    manager_.reset();
    store_.reset();
  }
  void reopen(const char* cidr = "10.0.0.0/24") {
    manager_.reset();
    store_.reset();
    store_ = disk_.reopen();
    AddressManager::Options o{{*conf::IpPrefix::parse(cidr)}, {}, 1000, nullptr};
    o.release_busy_wait = std::chrono::milliseconds(50);
    auto m = AddressManager::create(o, *store_, [this] { return now_.load(); });
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
  }
  AllocateRequest req(const std::string& cid) { return {{cid, "eth0"}, "quasar", "/ns", {}, {}}; }

  std::atomic<int64_t> now_{1'000'000};
  MemoryAllocationStore disk_;  // what survives a restart
  std::unique_ptr<MemoryAllocationStore> store_;
  std::unique_ptr<AddressManager> manager_;
};

TEST_F(AddressManagerTest, AllocateIsIdempotentPerAttachment) {
  auto a = manager_->allocate(req("c1"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->created);
  auto again = manager_->allocate(req("c1"));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->allocation.ips, a->allocation.ips);
}

TEST_F(AddressManagerTest, StateSurvivesRestartIncludingCooldown) {
  auto a = manager_->allocate(req("c1"));
  auto b = manager_->allocate(req("c2"));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(manager_->release({"c1", "eth0"}).ok());
  reopen();
  auto got = manager_->get({"c2", "eth0"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->ips, b->allocation.ips);
  EXPECT_TRUE(absl::IsNotFound(manager_->get({"c1", "eth0"}).status()));
  // c1's address is still cooling down after the restart.
  AllocateRequest want_a = req("c3");
  want_a.requested_ips = a->allocation.ips;
  EXPECT_TRUE(absl::IsUnavailable(manager_->allocate(want_a).status()));
  now_ += 1000;
  EXPECT_TRUE(manager_->allocate(want_a).ok());
}

TEST_F(AddressManagerTest, ReleaseOfUnknownAttachmentSucceeds) {
  auto r = manager_->release({"nobody", "eth0"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST_F(AddressManagerTest, ConcurrentAllocationsAreUniqueAndBatched) {
  constexpr int kThreads = 16, kPerThread = 12;
  // Each commit takes a millisecond, as an fsync on a disk does (on tmpfs a commit can end before
  // another thread queues behind it): concurrent allocations must share transactions.
  SlowDisk disk(*store_);
  auto manager =
      AddressManager::create({{*conf::IpPrefix::parse("10.0.0.0/24")}, {}, 1000, nullptr}, disk,
                             [this] { return now_.load(); });
  ASSERT_TRUE(manager.ok()) << manager.status();
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<conf::IpAddress> seen;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = (*manager)->allocate(req("c" + std::to_string(t) + "-" + std::to_string(i)));
        if (!r.ok()) {
          ++failures;
          continue;
        }
        std::lock_guard lock(mu);
        if (!seen.insert(r->allocation.ips[0]).second) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(seen.size(), size_t{kThreads * kPerThread});
  const GroupCommitter& committer = (*manager)->committer();
  EXPECT_EQ(committer.mutations(), uint64_t{kThreads * kPerThread});
  // Group commit batched: concurrent allocations shared transactions.
  EXPECT_LT(committer.transactions(), committer.mutations());
  RecordProperty("transactions", static_cast<int>(committer.transactions()));
  manager->reset();
  reopen();
  EXPECT_EQ(manager_->list("").size(), size_t{kThreads * kPerThread});
}

// GC (QuasardService::Gc) releases what stale() lists.
TEST_F(AddressManagerTest, StaleListsOnlyInvalidAttachmentsOfTheNetwork) {
  ASSERT_TRUE(manager_->allocate(req("keep")).ok());
  ASSERT_TRUE(manager_->allocate(req("stale")).ok());
  AllocateRequest other = req("other-net");
  other.network = "other";
  ASSERT_TRUE(manager_->allocate(other).ok());
  auto stale = manager_->stale("quasar", {{"keep", "eth0"}});
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0].attachment.container_id, "stale");
  ASSERT_TRUE(manager_->release(stale[0].attachment).ok());
  EXPECT_EQ(manager_->list("").size(), 2u);
}

TEST_F(AddressManagerTest, ReleaseWithHoldKeepsAddressesUntilEndHold) {
  auto stale = manager_->allocate(req("stale"));
  ASSERT_TRUE(stale.ok());
  auto released = manager_->release({"stale", "eth0"}, /*hold=*/true);
  ASSERT_TRUE(released.ok());
  ASSERT_EQ(released->size(), 1u);
  AllocateRequest want = req("next");
  want.requested_ips = stale->allocation.ips;
  now_ += 1'000'000;  // far past the cool-down: only the hold keeps it
  EXPECT_TRUE(absl::IsUnavailable(manager_->allocate(want).status()));
  manager_->endHold(stale->allocation.ips);
  now_ += 1000;
  EXPECT_TRUE(manager_->allocate(want).ok());
}

// An ADD in flight claims its attachment: no other ADD, DEL or GC takes it until the claim ends.
TEST_F(AddressManagerTest, AClaimedAttachmentIsLeftAloneUntilTheClaimEnds) {
  AllocateRequest first = req("c1");
  first.claim = 7;
  auto a = manager_->allocate(first);
  ASSERT_TRUE(a.ok()) << a.status();
  AllocateRequest second = req("c1");
  second.claim = 8;
  EXPECT_TRUE(absl::IsUnavailable(manager_->allocate(second).status()));
  EXPECT_TRUE(absl::IsUnavailable(manager_->allocate(req("c1")).status()));
  EXPECT_TRUE(absl::IsUnavailable(manager_->release({"c1", "eth0"}).status()));
  EXPECT_TRUE(absl::IsUnavailable(manager_->release({"c1", "eth0"}, false, 8).status()));
  EXPECT_TRUE(manager_->stale("quasar", {}).empty());
  manager_->endClaim({"c1", "eth0"}, 8);  // not its claim: nothing changes
  EXPECT_TRUE(absl::IsUnavailable(manager_->allocate(second).status()));
  manager_->endClaim({"c1", "eth0"}, 7);
  // The next ADD gets the existing allocation, and the claim with it.
  auto again = manager_->allocate(second);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->allocation.ips, a->allocation.ips);
  EXPECT_TRUE(absl::IsUnavailable(manager_->allocate(first).status()));
  // Its holder may release it (an ADD's rollback).
  auto released = manager_->release({"c1", "eth0"}, false, 8);
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(*released, a->allocation.ips);
}

TEST_F(AddressManagerTest, ExhaustionIsReportedAndNothingLeaks) {
  reopen("10.9.0.0/30");
  ASSERT_TRUE(manager_->allocate(req("a")).ok());
  ASSERT_TRUE(manager_->allocate(req("b")).ok());
  auto full = manager_->allocate(req("c"));
  EXPECT_TRUE(absl::IsResourceExhausted(full.status())) << full.status();
  EXPECT_TRUE(absl::IsNotFound(manager_->get({"c", "eth0"}).status()));
  AllocateRequest outside = req("d");
  outside.requested_ips = {*conf::IpAddress::parse("10.8.0.1")};
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->allocate(outside).status()));
}

}  // namespace
}  // namespace quasar::ipam

namespace quasar::ipam {
namespace {

// A DEL may reach quasard just before the ADD's connection has ended its claim (the plugin
// has exited, its connection thread has not yet seen it): the release waits for the claim.
TEST(AddressManagerClaims, AReleaseWaitsForAClaimThatEndsSoon) {
  auto store = std::make_unique<MemoryAllocationStore>();
  AddressManager::Options o;
  o.pod_cidrs = {*conf::IpPrefix::parse("10.0.0.0/24")};
  o.release_busy_wait = std::chrono::seconds(10);
  auto m = AddressManager::create(o, *store, [] { return int64_t{1}; });
  ASSERT_TRUE(m.ok()) << m.status();
  AllocateRequest add{{"c1", "eth0"}, "quasar", "/ns", {}, {}};
  add.claim = 7;
  auto a = (*m)->allocate(add);
  ASSERT_TRUE(a.ok()) << a.status();
  std::atomic<bool> ended = false;
  std::thread adds_connection([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ended = true;
    (*m)->endClaim({"c1", "eth0"}, 7);
  });
  auto released = (*m)->release({"c1", "eth0"});
  const bool ended_before = ended;
  adds_connection.join();
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_TRUE(ended_before) << "released while the ADD still held its claim";
  EXPECT_EQ(*released, a->allocation.ips);
}

TEST(AddressManagerBlocks, ClaimsARangeWhenFullAndRemovesIdleOnes) {
  {
    auto store = std::make_unique<MemoryAllocationStore>();
    std::vector<std::string> blocks{"10.1.0.0/30", "10.1.0.4/30"};
    int claims = 0;
    AddressManager::Options o;
    o.release_cooldown_ms = 0;
    o.claim_range = [&]() -> absl::StatusOr<conf::IpPrefix> {
      if (claims >= static_cast<int>(blocks.size())) {
        return absl::ResourceExhaustedError("no free block in the cluster CIDR");
      }
      return *conf::IpPrefix::parse(blocks[claims++]);
    };
    auto m = AddressManager::create(o, *store, [] { return int64_t{1}; });
    ASSERT_TRUE(m.ok()) << m.status();
    std::set<std::string> ips;
    for (int i = 0; i < 4; ++i) {
      auto r = (*m)->allocate({{"c" + std::to_string(i), "eth0"}, "n", "/ns", {}, {}});
      ASSERT_TRUE(r.ok()) << r.status();
      ips.insert(r->allocation.ips[0].toString());
    }
    EXPECT_EQ(claims, 2);
    EXPECT_EQ(ips, (std::set<std::string>{"10.1.0.1", "10.1.0.2", "10.1.0.5", "10.1.0.6"}));
    auto full = (*m)->allocate({{"c9", "eth0"}, "n", "/ns", {}, {}});
    EXPECT_TRUE(absl::IsResourceExhausted(full.status())) << full.status();
    EXPECT_TRUE(
        absl::IsFailedPrecondition((*m)->removeRangeIfIdle(*conf::IpPrefix::parse("10.1.0.4/30"))));
    ASSERT_TRUE((*m)->release({"c2", "eth0"}).ok());
    ASSERT_TRUE((*m)->release({"c3", "eth0"}).ok());
    EXPECT_TRUE((*m)->removeRangeIfIdle(*conf::IpPrefix::parse("10.1.0.4/30")).ok());
    EXPECT_EQ((*m)->stats().size(), 1u);
  }
}

}  // namespace
}  // namespace quasar::ipam

namespace quasar::ipam {
namespace {

// A pod keeps an address of a block the node no longer had at its restart (given back, or
// lost): when the node claims that block again, the address is not handed out a second time.
TEST(AddressManagerBlocks, AddressesRestoredOutsideTheRangesAreNotHandedOutWhenClaimedAgain) {
  {
    auto store = std::make_unique<MemoryAllocationStore>();
    AddressManager::Options first;
    first.release_cooldown_ms = 0;
    first.pod_cidrs = {*conf::IpPrefix::parse("10.1.0.4/30")};
    auto m = AddressManager::create(first, *store, [] { return int64_t{1}; });
    ASSERT_TRUE(m.ok()) << m.status();
    auto kept = (*m)->allocate({{"kept", "eth0"}, "n", "/ns", {}, {}});
    ASSERT_TRUE(kept.ok());
    ASSERT_EQ(kept->allocation.ips[0].toString(), "10.1.0.5");
    m->reset();

    // Restarted with another block; the old one comes back through a claim.
    AddressManager::Options second;
    second.release_cooldown_ms = 0;
    second.pod_cidrs = {*conf::IpPrefix::parse("10.1.0.0/30")};
    int claims = 0;
    second.claim_range = [&]() -> absl::StatusOr<conf::IpPrefix> {
      if (claims++ > 0) return absl::ResourceExhaustedError("no free block");
      return *conf::IpPrefix::parse("10.1.0.4/30");
    };
    m = AddressManager::create(second, *store, [] { return int64_t{2}; });
    ASSERT_TRUE(m.ok()) << m.status();
    std::set<std::string> handed_out;
    for (int i = 0; i < 3; ++i) {
      auto r = (*m)->allocate({{"c" + std::to_string(i), "eth0"}, "n", "/ns", {}, {}});
      ASSERT_TRUE(r.ok()) << r.status();
      handed_out.insert(r->allocation.ips[0].toString());
    }
    EXPECT_EQ(handed_out, (std::set<std::string>{"10.1.0.1", "10.1.0.2", "10.1.0.6"}));
    EXPECT_TRUE(
        absl::IsResourceExhausted((*m)->allocate({{"c9", "eth0"}, "n", "/ns", {}, {}}).status()))
        << "10.1.0.5 is still the kept pod's";
    // Once the pod lets it go, it is free again.
    ASSERT_TRUE((*m)->release({"kept", "eth0"}).ok());
    auto again = (*m)->allocate({{"c9", "eth0"}, "n", "/ns", {}, {}});
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->allocation.ips[0].toString(), "10.1.0.5");
  }
}

}  // namespace
}  // namespace quasar::ipam

namespace quasar::ipam {
namespace {

TEST(AddressManagerGate, NothingIsHandedOutWhileTheGateIsClosed) {
  {
    auto store = std::make_unique<MemoryAllocationStore>();
    std::atomic<bool> open{false};
    AddressManager::Options o;
    o.pod_cidrs = {*conf::IpPrefix::parse("10.1.0.0/30")};
    o.allocation_gate = [&] {
      return open ? absl::OkStatus() : absl::UnavailableError("ownership unconfirmed");
    };
    auto m = AddressManager::create(o, *store, [] { return int64_t{1}; });
    ASSERT_TRUE(m.ok()) << m.status();
    auto closed = (*m)->allocate({{"c0", "eth0"}, "n", "/ns", {}, {}});
    EXPECT_TRUE(absl::IsUnavailable(closed.status())) << closed.status();
    EXPECT_EQ((*m)->stats()[0].stats.used, 0u);
    open = true;
    EXPECT_TRUE((*m)->allocate({{"c0", "eth0"}, "n", "/ns", {}, {}}).ok());
  }
}

}  // namespace
}  // namespace quasar::ipam
