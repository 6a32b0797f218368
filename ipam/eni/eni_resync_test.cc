// The pool's books against the cloud after outcomes it could not know (a lost reply) and
// changes made behind its back: no address is ever handed out twice, none is lost for good.
#include <gtest/gtest.h>

#include <set>

#include "ipam/eni/eni_pool.h"
#include "ipam/eni/test_util.h"

namespace quasar::ipam::eni {
namespace {

using namespace testing;

class EniResyncTest : public PoolFixture {
 protected:
  // Every secondary address of every interface.
  std::set<conf::IpAddress> cloudAddresses() {
    std::set<conf::IpAddress> out;
    for (const auto& [id, nic] : cloud_->interfaces()) {
      out.insert(nic.secondary_ips.begin(), nic.secondary_ips.end());
    }
    return out;
  }
};

TEST_F(EniResyncTest, AGiveBackWhoseReplyWasLostIsNeverHandedOut) {
  auto c = config();
  c.warm_ip_target = 2;
  c.surplus_cooldown_ms = 0;
  auto& p = pool(c);
  ASSERT_TRUE(p.refill(0).ok());
  auto a = p.take(1), b = p.take(1);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(p.refill(2).ok());  // two more free
  p.released(*a, false, 3);
  p.released(*b, false, 3);
  // The cloud takes the surplus back, but the answer never arrives.
  cloud_->loseReplyNext("unassignPrivateIps", absl::DeadlineExceededError("timed out"));
  EXPECT_FALSE(p.refill(4).ok());
  const auto given_back = cloudAddresses();
  ASSERT_EQ(given_back.size(), 2u);
  // Until the pool has read the cloud again, nothing it may have lost is handed out: only
  // addresses the cloud still shows.
  for (int i = 0; i < 2; ++i) {
    auto ip = p.take(5);
    if (!ip.ok()) break;
    EXPECT_TRUE(given_back.count(*ip)) << ip->toString() << " was given back to the cloud";
  }
  // The next pass reads the interface: the books match the cloud again.
  ASSERT_TRUE(p.refill(6).ok());
  EXPECT_EQ(p.status().assigned, static_cast<int>(cloudAddresses().size()));
  for (const auto& h : p.handedOut()) EXPECT_TRUE(cloudAddresses().count(h.ip));
}

TEST_F(EniResyncTest, AnAssignmentWhoseReplyWasLostIsAdoptedNotLeaked) {
  auto& p = pool();
  cloud_->loseReplyNext("assignPrivateIps", absl::UnavailableError("outcome unknown"));
  EXPECT_FALSE(p.take(1).ok());            // the ADD is told to try again
  ASSERT_EQ(cloudAddresses().size(), 1u);  // but the cloud assigned it
  ASSERT_TRUE(p.refill(2).ok());
  EXPECT_EQ(p.status().free, 1);
  cloud_->resetCalls();
  auto again = p.take(3);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *cloudAddresses().begin());
  EXPECT_EQ(cloud_->totalCalls(), 0);
  // Capacity holds: 9 addresses in all on t3.small, none refused by the cloud's own count.
  for (int i = 1; i < 9; ++i) {
    auto ip = p.take(4);
    ASSERT_TRUE(ip.ok()) << i << ": " << ip.status();
  }
  EXPECT_EQ(cloud_->secondaryCount(), 9);
}

TEST_F(EniResyncTest, ChangesBehindItsBackAreFoundWithinAMinute) {
  auto c = config();
  c.warm_ip_target = 2;
  auto& p = pool(c);
  ASSERT_TRUE(p.refill(1000).ok());
  auto used = p.take(1001);
  ASSERT_TRUE(used.ok());
  ASSERT_TRUE(p.refill(1002).ok());
  ASSERT_EQ(p.status().free, 2);
  // Someone unassigns a free address and the pod's address.
  std::set<conf::IpAddress> before = cloudAddresses();
  for (const auto& ip : before) {
    if (ip != *used) {
      cloud_->dropSecondaryIp("eni-primary", ip);
      break;
    }
  }
  cloud_->dropSecondaryIp("eni-primary", *used);
  cloud_->resetCalls();
  ASSERT_TRUE(p.refill(1003).ok());  // not yet read
  EXPECT_EQ(cloud_->calls("listInterfaces"), 0);
  ASSERT_TRUE(p.refill(1003 + 60'000).ok());
  EXPECT_EQ(cloud_->calls("listInterfaces"), 1);
  // The pool refilled the free address it lost. The pod keeps its address (lost, or the
  // pool's again when the cloud hands it back) and nobody else gets it.
  EXPECT_EQ(p.status().free, 2);
  for (int i = 0; i < 8; ++i) {
    auto ip = p.take(70'000);
    if (!ip.ok()) break;
    EXPECT_NE(*ip, *used);
  }
}

}  // namespace
}  // namespace quasar::ipam::eni
