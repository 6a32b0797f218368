// Restart: a new pool over the same cloud reads what is attached and reconciles it with the
// allocations the node's store restored. Nothing leaks and nothing is handed out twice.
#include <gtest/gtest.h>

#include <set>

#include "ipam/eni/eni_pool.h"
#include "ipam/eni/test_util.h"

namespace quasar::ipam::eni {
namespace {

using namespace testing;

class EniRestartTest : public ::testing::Test {
 protected:
  void SetUp() override { cloud_ = t3small(); }
  // A fresh pool (quasard started again) with `restored` from the store.
  EniPool& restart(const std::vector<conf::IpAddress>& restored, PoolConfig c = config()) {
    pool_ = std::make_unique<EniPool>(std::move(c), *cloud_);
    for (const auto& a : restored) pool_->restore(a);
    auto s = pool_->start();
    EXPECT_TRUE(s.ok()) << s;
    return *pool_;
  }
  std::vector<conf::IpAddress> takeAll(EniPool& p, int n) {
    std::vector<conf::IpAddress> out;
    for (int i = 0; i < n; ++i) {
      auto a = p.take(1000);
      EXPECT_TRUE(a.ok()) << a.status();
      if (a.ok()) out.push_back(*a);
    }
    return out;
  }
  // Quasar created an interface and died before attaching it.
  std::string orphan(const std::string& node = "node-a") {
    cloud::CreateInterfaceRequest r;
    r.subnet_id = "subnet-a";
    r.tags = {{cloud::kNodeTag, node}};
    r.client_token = "crashed";
    return cloud_->createInterface(r).value().id;
  }

  std::unique_ptr<cloud::FakeCloudProvider> cloud_;
  std::unique_ptr<EniPool> pool_;
};

TEST_F(EniRestartTest, RestoredAddressesAreInUseAndInterfacesAreAdopted) {
  auto before = takeAll(restart({}), 5);  // the primary's 3, and 2 on an ENI quasar attached
  cloud_->resetCalls();
  auto& p = restart(before);
  auto st = p.status();
  EXPECT_EQ(st.used, 5);
  EXPECT_EQ(st.free, 0);
  ASSERT_EQ(st.interfaces.size(), 2u);
  EXPECT_TRUE(st.interfaces[1].interface.created_by_quasar);
  EXPECT_EQ(p.handedOut().size(), 5u);
  auto next = p.take(2000);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(std::count(before.begin(), before.end(), *next), 0);
  EXPECT_EQ(cloud_->calls("createInterface"), 0);  // the adopted ENI had room
}

TEST_F(EniRestartTest, AnAddressTheCloudNoLongerShowsIsNeverHandedOutAgain) {
  auto before = takeAll(restart({}), 3);
  cloud_->dropSecondaryIp("eni-primary", before[1]);
  auto& p = restart(before);
  auto st = p.status();
  EXPECT_EQ(st.lost, std::vector<conf::IpAddress>{before[1]});
  EXPECT_EQ(st.used, 2);
  // The fake hands out its lowest free address, the lost one first: it stays the old pod's.
  std::set<conf::IpAddress> given;
  while (true) {
    auto a = p.take(2000);
    if (!a.ok()) break;
    EXPECT_TRUE(given.insert(*a).second);
    EXPECT_EQ(std::count(before.begin(), before.end(), *a), 0) << a->toString();
  }
  EXPECT_EQ(given.size(), 6u);  // capacity 9, less the 3 restored
  p.released(before[1], false, 3000);
  EXPECT_TRUE(p.status().lost.empty());
  auto again = p.take(3000);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, before[1]);  // the cloud gave it back; its pod is gone now
}

TEST_F(EniRestartTest, AnAddressTheStoreLostIsAdoptedThenGivenBackAsSurplus) {
  auto before = takeAll(restart({}), 2);
  auto c = config();
  c.minimum_ip_target = 1;
  auto& p = restart({before[0]}, c);
  EXPECT_EQ(p.status().free, 1);
  ASSERT_TRUE(p.refill(10).ok());
  ASSERT_TRUE(p.refill(10 + 60'000).ok());
  EXPECT_EQ(cloud_->interface("eni-primary").secondary_ips,
            std::vector<conf::IpAddress>{before[0]});
  EXPECT_EQ(p.status().assigned, 1);
}

TEST_F(EniRestartTest, AdoptedAddressIsHandedOutWithoutACloudCall) {
  auto before = takeAll(restart({}), 2);
  auto& p = restart({before[0]});
  cloud_->resetCalls();
  auto a = p.take(2000);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, before[1]);
  EXPECT_EQ(cloud_->totalCalls(), 0);
}

TEST_F(EniRestartTest, RestoreAfterStartIsReconciledToo) {
  auto before = takeAll(restart({}), 2);
  auto& p = restart({});
  EXPECT_EQ(p.status().free, 2);
  p.restore(before[1]);
  p.restore(conf::IpAddress::parse("10.40.0.250").value());
  EXPECT_EQ(p.status().used, 1);
  EXPECT_EQ(p.status().lost.size(), 1u);
  EXPECT_EQ(p.take(2000).value(), before[0]);
}

TEST_F(EniRestartTest, AnOrphanCreatedButNotAttachedIsAttached) {
  restart({});
  const std::string id = orphan();
  cloud_->assignPrivateIps(id, 2).value();
  cloud_->resetCalls();
  auto& p = restart({});
  EXPECT_EQ(cloud_->calls("attachInterface"), 1);
  const auto nic = cloud_->interface(id);
  EXPECT_EQ(nic.device_index, 1);
  EXPECT_EQ(nic.instance_id, "i-0123456789abcdef0");
  auto st = p.status();
  ASSERT_EQ(st.interfaces.size(), 2u);
  EXPECT_EQ(st.interfaces[1].interface.id, id);
  EXPECT_EQ(st.interfaces[1].free, 2);
  EXPECT_TRUE(st.interfaces[1].interface.created_by_quasar);
}

// quasar died after attaching an interface, before marking it (or an older quasar attached
// it): the first refill after the restart marks it; another tool's interface is left alone.
TEST_F(EniRestartTest, AdoptedInterfacesAreMarkedToGoWithTheInstance) {
  {
    auto& before = restart({});
    takeAll(before, 4);  // the fourth needs an interface of quasar's
  }
  cloud::NetworkInterface foreign;
  foreign.id = "eni-foreign";
  foreign.mac = "02:00:00:00:00:99";
  foreign.subnet_id = "subnet-a";
  foreign.status = "in-use";
  foreign.attachment_id = "eni-attach-foreign";
  foreign.instance_id = "i-0123456789abcdef0";
  foreign.device_index = 2;
  foreign.primary_ip = ip("10.40.0.200");
  foreign.tags = {{"team", "other"}};
  cloud_->addInterface(foreign);
  std::string ours;
  for (const auto& i : restart({}).interfaces()) {
    if (i.created_by_quasar) ours = i.id;
  }
  ASSERT_FALSE(ours.empty());
  EXPECT_FALSE(cloud_->interface(ours).delete_on_termination);
  ASSERT_TRUE(pool_->refill(2000).ok());
  EXPECT_TRUE(cloud_->interface(ours).delete_on_termination);
  EXPECT_FALSE(cloud_->interface("eni-foreign").delete_on_termination);
  EXPECT_EQ(cloud_->calls("setDeleteOnTermination"), 1);
}

TEST_F(EniRestartTest, AnOrphanWithNoDeviceIndexLeftIsDeleted) {
  auto& first = restart({});
  takeAll(first, 9);  // every device index taken
  const std::string id = orphan();
  cloud_->resetCalls();
  restart({});
  EXPECT_EQ(cloud_->calls("attachInterface"), 0);
  EXPECT_EQ(cloud_->calls("deleteInterface"), 1);
  EXPECT_FALSE(cloud_->interfaces().contains(id));
}

TEST_F(EniRestartTest, AnotherNodesOrphanIsLeftAlone) {
  const std::string id = orphan("node-b");
  restart({});
  EXPECT_FALSE(cloud_->touched().contains(id));
  EXPECT_TRUE(cloud_->interfaces().contains(id));
}

TEST_F(EniRestartTest, StartRetriesUntilTheCloudAnswers) {
  cloud_->throttle("describeInstance", 1);
  EniPool p(config(), *cloud_);
  EXPECT_TRUE(absl::IsUnavailable(p.start()));
  auto early = p.take(1000);
  EXPECT_TRUE(absl::IsUnavailable(early.status()));
  EXPECT_NE(early.status().message().find("RequestLimitExceeded"), std::string::npos);
  EXPECT_FALSE(p.status().started);
  ASSERT_TRUE(p.refill(2000).ok());  // starts it
  EXPECT_TRUE(p.started());
  EXPECT_TRUE(p.take(3000).ok());
}

}  // namespace
}  // namespace quasar::ipam::eni
