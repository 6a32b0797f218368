#include "ipam/floating/floating_allocator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <set>
#include <thread>

#include "ipam/failure_reason.h"
#include "ipam/floating/memory_lease_store.h"
#include "ipam/floating/test_util.h"

namespace quasar::ipam::floating {
namespace {

using ::testing::HasSubstr;
using testing::ip;

class FloatingAllocatorTest : public ::testing::Test {
 protected:
  FloatingAllocatorTest() : alloc_(store_, {.cooldown_ms = 5000}) {
    alloc_.setPools({testing::pool("a", 0, 100, 102), testing::pool("b", 1, 100, 109)});
  }
  ClaimRequest pod(const std::string& name, ReleasePolicy policy = ReleasePolicy::kRelease,
                   int64_t now = 1000) {
    return testing::barePod(name, "uid-" + name, policy, testing::node("n1"), now);
  }
  std::string claimIp(const ClaimRequest& r) {
    auto c = alloc_.claim(r);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? c->lease.ip.toString() : "";
  }

  MemoryLeaseStore store_;
  FloatingAllocator alloc_;
};

TEST_F(FloatingAllocatorTest, ClaimIsIdempotentPerAttachment) {
  auto first = alloc_.claim(pod("p"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->pool.name, "a");
  EXPECT_EQ(first->lease.ip.toString(), "10.20.0.100");
  EXPECT_EQ(first->lease.state, LeaseState::kBound);
  EXPECT_EQ(first->lease.node, "n1");
  auto again = alloc_.claim(pod("p"));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->lease, first->lease);
  EXPECT_EQ(alloc_.list()->size(), 1u);
}

TEST_F(FloatingAllocatorTest, ARepeatedClaimKeepsItsAddressAfterThePoolStopsServingTheNode) {
  const std::string held = claimIp(pod("p"));
  auto a = testing::pool("a", 0, 100, 102);
  a.node_selector = {{"gpu", "true"}};
  alloc_.setPools({a});
  auto again = alloc_.claim(pod("p"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->lease.ip.toString(), held);
  EXPECT_FALSE(again->created);
  EXPECT_TRUE(absl::IsFailedPrecondition(alloc_.claim(pod("q")).status()));
}

TEST_F(FloatingAllocatorTest, EmptyPoolListTakesEveryServingPoolByNameThenTheNext) {
  EXPECT_EQ(claimIp(pod("p1")), "10.20.0.100");
  EXPECT_EQ(claimIp(pod("p2")), "10.20.0.101");
  EXPECT_EQ(claimIp(pod("p3")), "10.20.0.102");
  EXPECT_EQ(claimIp(pod("p4")), "10.20.1.100");  // a is full: b
}

TEST_F(FloatingAllocatorTest, ListedPoolsInTheirOrderAndMaxAllocatedFallsBack) {
  auto b = testing::pool("b", 1, 100, 109);
  b.max_allocated = 2;
  alloc_.setPools({testing::pool("a", 0, 100, 102), b});
  auto r = pod("p1");
  r.pools = {"b", "a"};
  EXPECT_EQ(claimIp(r), "10.20.1.100");
  r = pod("p2");
  r.pools = {"b", "a"};
  EXPECT_EQ(claimIp(r), "10.20.1.101");
  r = pod("p3");
  r.pools = {"b", "a"};
  EXPECT_EQ(claimIp(r), "10.20.0.100");  // b is at its maximum
}

TEST_F(FloatingAllocatorTest, EveryPoolFullIsResourceExhaustedNamingEachPool) {
  auto b = testing::pool("b", 1, 100, 109);
  b.max_allocated = 1;
  alloc_.setPools({testing::pool("a", 0, 100, 101), b});
  for (auto name : {"p1", "p2", "p3"}) claimIp(pod(name));
  auto c = alloc_.claim(pod("p4"));
  ASSERT_TRUE(absl::IsResourceExhausted(c.status())) << c.status();
  EXPECT_THAT(c.status().message(), HasSubstr("node n1"));
  EXPECT_THAT(c.status().message(), HasSubstr("a (2/2), b (1/1 maxAllocated)"));
  EXPECT_EQ(reasonOf(c.status()), FailureReason::kPoolsFull);
}

TEST_F(FloatingAllocatorTest, NoPoolServesTheNodeIsFailedPrecondition) {
  auto gpu = testing::pool("gpu", 0, 100, 110);
  gpu.node_selector = {{"nvidia.com/gpu.present", "true"}};
  alloc_.setPools({gpu});
  auto c = alloc_.claim(pod("p"));
  ASSERT_TRUE(absl::IsFailedPrecondition(c.status())) << c.status();
  EXPECT_THAT(c.status().message(), HasSubstr("no pool serves node n1"));
  EXPECT_EQ(reasonOf(c.status()), FailureReason::kNoPoolForNode);
  auto r = pod("p");
  r.node.labels = {{"nvidia.com/gpu.present", "true"}};
  EXPECT_EQ(claimIp(r), "10.20.0.100");
}

TEST_F(FloatingAllocatorTest, AListedPoolThatDoesNotExistIsFailedPrecondition) {
  auto r = pod("p");
  r.pools = {"a", "nope"};
  auto c = alloc_.claim(r);
  ASSERT_TRUE(absl::IsFailedPrecondition(c.status())) << c.status();
  EXPECT_THAT(c.status().message(), HasSubstr("\"nope\" does not exist"));
  EXPECT_THAT(c.status().message(), HasSubstr("node n1"));
}

TEST_F(FloatingAllocatorTest, RequestedAddressFreeOutsideOrTaken) {
  auto r = pod("p1");
  r.ip = ip("10.20.1.105");
  EXPECT_EQ(claimIp(r), "10.20.1.105");
  auto r2 = pod("p2");
  r2.ip = ip("10.20.1.105");
  auto taken = alloc_.claim(r2);
  ASSERT_TRUE(absl::IsAlreadyExists(taken.status())) << taken.status();
  EXPECT_THAT(taken.status().message(), HasSubstr("taken by pod default/p1 on node n1"));
  EXPECT_EQ(reasonOf(taken.status()), FailureReason::kAddressTaken);
  r2.ip = ip("10.20.0.1");  // the gateway
  auto outside = alloc_.claim(r2);
  ASSERT_TRUE(absl::IsInvalidArgument(outside.status())) << outside.status();
  EXPECT_THAT(outside.status().message(), HasSubstr("outside every pool serving node n1"));
  EXPECT_EQ(reasonOf(outside.status()), FailureReason::kOutsidePools);
  r2.ip = ip("10.99.0.5");
  EXPECT_TRUE(absl::IsInvalidArgument(alloc_.claim(r2).status()));
}

TEST_F(FloatingAllocatorTest, ReleasedAddressCoolsDownAcrossARestart) {
  alloc_.setPools({testing::pool("a", 0, 100, 101)});
  EXPECT_EQ(claimIp(pod("p1")), "10.20.0.100");
  EXPECT_EQ(claimIp(pod("p2")), "10.20.0.101");
  ASSERT_TRUE(alloc_.release({"c-uid-p1", "eth0"}, 2000).ok());
  ASSERT_TRUE(alloc_.release({"c-uid-p1", "eth0"}, 2000).ok());  // idempotent
  // Another daemon (a restart) on the same store sees the tombstone.
  FloatingAllocator restarted(store_, {.cooldown_ms = 5000});
  restarted.setPools(alloc_.pools());
  auto cooling = restarted.claim(pod("p3", ReleasePolicy::kRelease, 6999));
  ASSERT_TRUE(absl::IsUnavailable(cooling.status())) << cooling.status();
  EXPECT_THAT(cooling.status().message(), HasSubstr("cool-down"));
  auto later = restarted.claim(pod("p3", ReleasePolicy::kRelease, 7000));
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(later->lease.ip.toString(), "10.20.0.100");
}

TEST_F(FloatingAllocatorTest, TheSamePodMayAskForItsAddressBackDuringTheCoolDown) {
  auto r = pod("p1");
  r.ip = ip("10.20.0.101");
  EXPECT_EQ(claimIp(r), "10.20.0.101");
  ASSERT_TRUE(alloc_.release(r.attachment, 2000).ok());
  auto other = pod("p2", ReleasePolicy::kRelease, 2500);
  other.ip = ip("10.20.0.101");
  EXPECT_TRUE(absl::IsUnavailable(alloc_.claim(other).status()));
  auto again =
      testing::barePod("p1", "uid-p1-2", ReleasePolicy::kRelease, testing::node("n2"), 2500);
  again.ip = ip("10.20.0.101");
  EXPECT_EQ(claimIp(again), "10.20.0.101");
}

TEST_F(FloatingAllocatorTest, AnAbandonedClaimFreesTheAddressWithoutCoolDown) {
  alloc_.setPools({testing::pool("a", 0, 100, 100)});
  EXPECT_EQ(claimIp(pod("p1")), "10.20.0.100");
  ASSERT_TRUE(alloc_.abandon({"c-uid-p1", "eth0"}, 1000).ok());
  ASSERT_TRUE(alloc_.abandon({"c-uid-p1", "eth0"}, 1000).ok());
  EXPECT_TRUE(alloc_.list()->empty());
  EXPECT_EQ(claimIp(pod("p2")), "10.20.0.100");
}

TEST_F(FloatingAllocatorTest, GcForgetsTombstonesAfterTheCoolDown) {
  claimIp(pod("p1"));
  ASSERT_TRUE(alloc_.release({"c-uid-p1", "eth0"}, 2000).ok());
  auto none = [](const WorkloadRef&) { return WorkloadStatus{}; };
  ASSERT_TRUE(alloc_.gc(none, 3000).ok());
  EXPECT_EQ(alloc_.list()->size(), 1u);
  auto freed = alloc_.gc(none, 7000);
  ASSERT_TRUE(freed.ok());
  EXPECT_TRUE(freed->empty());  // a tombstone is not an address in use
  EXPECT_TRUE(alloc_.list()->empty());
}

// A store in which another node wins the first create of every address.
class RacingStore final : public LeaseStore {
 public:
  absl::StatusOr<std::vector<StoredLease>> list(const std::string& p) override {
    return inner.list(p);
  }
  absl::StatusOr<std::optional<StoredLease>> get(const conf::IpAddress& a) override {
    return inner.get(a);
  }
  absl::StatusOr<int64_t> create(const Lease& lease) override {
    if (lost < races) {
      ++lost;
      Lease theirs = lease;
      theirs.node = "other";
      theirs.attachment = {"other-" + std::to_string(lost), "eth0"};
      EXPECT_TRUE(inner.create(theirs).ok());
      return absl::AlreadyExistsError("taken");
    }
    return inner.create(lease);
  }
  absl::StatusOr<int64_t> update(const Lease& l, int64_t rev) override {
    return inner.update(l, rev);
  }
  absl::Status remove(const conf::IpAddress& a, int64_t rev) override {
    return inner.remove(a, rev);
  }
  std::string describe() const override { return "racing"; }
  MemoryLeaseStore inner;
  int races = 0;
  int lost = 0;
};

TEST(FloatingAllocatorRace, LosingACreateMovesToTheNextAddress) {
  RacingStore store;
  store.races = 2;
  FloatingAllocator alloc(store, {});
  alloc.setPools({testing::pool("a", 0, 100, 109)});
  auto c = alloc.claim(testing::barePod("p", "u", ReleasePolicy::kRelease, testing::node("n1")));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->lease.ip.toString(), "10.20.0.102");
  EXPECT_EQ(store.inner.list("")->size(), 3u);
}

TEST(FloatingAllocatorRace, LosingEveryAddressEndsResourceExhausted) {
  RacingStore store;
  store.races = 3;
  FloatingAllocator alloc(store, {});
  alloc.setPools({testing::pool("a", 0, 100, 102)});
  auto c = alloc.claim(testing::barePod("p", "u", ReleasePolicy::kRelease, testing::node("n1")));
  EXPECT_TRUE(absl::IsResourceExhausted(c.status())) << c.status();
}

TEST(FloatingAllocatorRace, ThreeNodesRaceThirtyPodsForTenAddresses) {
  MemoryLeaseStore store;
  std::vector<std::unique_ptr<FloatingAllocator>> nodes;
  for (int i = 0; i < 3; ++i) {
    nodes.push_back(std::make_unique<FloatingAllocator>(store, FloatingAllocator::Options{}));
    nodes.back()->setPools({testing::pool("a", 0, 100, 109)});
  }
  std::atomic<int> ok{0}, exhausted{0}, other{0};
  std::mutex mu;
  std::set<std::string> ips;
  std::vector<std::thread> threads;
  std::latch start(30);  // every claim at once, so that they really race
  for (int i = 0; i < 30; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      const std::string n = "n" + std::to_string(i % 3);
      auto c =
          nodes[i % 3]->claim(testing::barePod("p" + std::to_string(i), "u" + std::to_string(i),
                                               ReleasePolicy::kRelease, testing::node(n)));
      if (c.ok()) {
        ++ok;
        std::lock_guard lock(mu);
        EXPECT_TRUE(ips.insert(c->lease.ip.toString()).second) << c->lease.ip.toString();
      } else if (absl::IsResourceExhausted(c.status())) {
        ++exhausted;
      } else {
        ++other;
        ADD_FAILURE() << c.status();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 10);
  EXPECT_EQ(exhausted.load(), 20);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(store.list("")->size(), 10u);
}

TEST_F(FloatingAllocatorTest, AnUnreachableStoreIsUnavailable) {
  store_.set_unavailable(true);
  EXPECT_TRUE(absl::IsUnavailable(alloc_.claim(pod("p")).status()));
  EXPECT_TRUE(absl::IsUnavailable(alloc_.release({"c", "eth0"}, 1)));
  store_.set_unavailable(false);
  EXPECT_EQ(claimIp(pod("p")), "10.20.0.100");
}

TEST_F(FloatingAllocatorTest, StatsCountEveryStatePerPool) {
  auto a = testing::pool("a", 0, 100, 102);
  a.max_allocated = 2;
  alloc_.setPools({a, testing::pool("b", 1, 100, 109)});
  claimIp(pod("bound"));
  claimIp(pod("kept", ReleasePolicy::kNever));
  ASSERT_TRUE(alloc_.release({"c-uid-kept", "eth0"}, 1500).ok());
  ASSERT_TRUE(alloc_.reserve(ip("10.20.1.105"), "b", std::nullopt, 1500).ok());
  auto s = alloc_.stats();
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].name, "a");
  EXPECT_EQ((*s)[0].capacity, 3u);
  EXPECT_EQ((*s)[0].in_use, 2);
  EXPECT_EQ((*s)[0].bound, 1);
  EXPECT_EQ((*s)[0].unbound, 1);
  EXPECT_EQ((*s)[0].max_allocated, 2);
  EXPECT_EQ((*s)[1].reserved, 1);
  EXPECT_EQ((*s)[1].in_use, 1);
  EXPECT_EQ((*s)[1].capacity, 10u);
}

TEST_F(FloatingAllocatorTest, ReservedAddressIsSkippedThenGivenOnRequestAndReleasedByOperator) {
  auto r = alloc_.reserve(ip("10.20.0.100"), "a", std::nullopt, 1000);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state, LeaseState::kReserved);
  EXPECT_TRUE(alloc_.reserve(ip("10.20.0.100"), "a", std::nullopt, 1000).ok());  // idempotent
  EXPECT_TRUE(absl::IsNotFound(alloc_.reserve(ip("10.20.0.100"), "x", std::nullopt, 1).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(alloc_.reserve(ip("10.20.0.1"), "a", std::nullopt, 1).status()));
  EXPECT_EQ(claimIp(pod("p1")), "10.20.0.101");
  auto want = pod("p2");
  want.ip = ip("10.20.0.100");
  EXPECT_EQ(claimIp(want), "10.20.0.100");
  // Held by p2 (release policy), it goes back to the reservation when p2 goes.
  ASSERT_TRUE(alloc_.release(want.attachment, 2000).ok());
  EXPECT_EQ(alloc_.list()->at(0).state, LeaseState::kReserved);
  ASSERT_TRUE(alloc_.releaseByOperator(ip("10.20.0.100"), 2000).ok());
  EXPECT_TRUE(absl::IsNotFound(alloc_.releaseByOperator(ip("10.20.0.100"), 2000)));
  EXPECT_TRUE(
      absl::IsAlreadyExists(alloc_.reserve(ip("10.20.0.101"), "a", std::nullopt, 1).status()));
}

TEST_F(FloatingAllocatorTest, OperatorReleaseOfABoundAddressFreesItWhenThePodGoes) {
  claimIp(pod("p1", ReleasePolicy::kNever));
  ASSERT_TRUE(alloc_.releaseByOperator(ip("10.20.0.100"), 1500).ok());
  EXPECT_EQ(alloc_.list()->at(0).state, LeaseState::kBound);
  ASSERT_TRUE(alloc_.release({"c-uid-p1", "eth0"}, 2000).ok());
  EXPECT_EQ(alloc_.list()->at(0).state, LeaseState::kReleased);
}

TEST_F(FloatingAllocatorTest, AReservationForAWorkloadGoesToItsPodsFirst) {
  const auto d = testing::workload(WorkloadKind::kDeployment, "d");
  ASSERT_TRUE(alloc_.reserve(ip("10.20.1.107"), "b", d, 1000).ok());
  auto other = alloc_.claim(pod("x"));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->lease.ip.toString(), "10.20.0.100");
  auto mine =
      alloc_.claim(testing::request(d, "d-1", "u1", ReleasePolicy::kRelease, testing::node("n1")));
  ASSERT_TRUE(mine.ok()) << mine.status();
  EXPECT_EQ(mine->lease.ip.toString(), "10.20.1.107");
  EXPECT_EQ(mine->pool.name, "b");
}

}  // namespace
}  // namespace quasar::ipam::floating
