// The pool against the fake cloud: warm and cold takes, the node's limit, the warm targets,
// capacity, surplus cool-down, interfaces quasar must not touch, and throttling.
#include "ipam/eni/eni_pool.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "ipam/eni/test_util.h"
#include "ipam/failure_reason.h"

namespace quasar::ipam::eni {
namespace {

using namespace testing;

class EniPoolTest : public PoolFixture {
 protected:
  conf::IpAddress take(int64_t now = 1000) {
    auto ip = pool_->take(now);
    EXPECT_TRUE(ip.ok()) << ip.status();
    return ip.value_or(conf::IpAddress());
  }
};

TEST_F(EniPoolTest, WarmTakeMakesNoCloudCall) {
  auto c = config();
  c.warm_ip_target = 3;
  auto& p = pool(c);
  ASSERT_TRUE(p.refill(1000).ok());
  EXPECT_EQ(p.status().free, 3);
  cloud_->resetCalls();
  take();
  take();
  EXPECT_EQ(cloud_->totalCalls(), 0);
  EXPECT_EQ(p.status().used, 2);
}

TEST_F(EniPoolTest, ColdTakeMakesExactlyOneAssignment) {
  auto& p = pool();
  cloud_->resetCalls();
  auto a = take();
  EXPECT_EQ(cloud_->calls("assignPrivateIps"), 1);
  EXPECT_EQ(cloud_->totalCalls(), 1);
  EXPECT_EQ(cloud_->interface("eni-primary").secondary_ips, std::vector<conf::IpAddress>{a});
  EXPECT_EQ(p.interfaceOf(a)->id, "eni-primary");
}

TEST_F(EniPoolTest, ColdTakeCreatesAndAttachesWhenEveryInterfaceIsFull) {
  auto& p = pool();
  for (int i = 0; i < 3; ++i) take();  // the primary's 3 secondaries
  cloud_->resetCalls();
  auto a = take();
  EXPECT_EQ(cloud_->calls("createInterface"), 1);
  EXPECT_EQ(cloud_->calls("attachInterface"), 1);
  EXPECT_EQ(cloud_->calls("assignPrivateIps"), 1);
  auto nic = p.interfaceOf(a);
  ASSERT_TRUE(nic.has_value());
  EXPECT_EQ(nic->device_index, 1);
  EXPECT_TRUE(nic->created_by_quasar);
  EXPECT_EQ(nic->subnet_cidr, prefix("10.40.0.0/24"));
  const auto created = cloud_->interface(nic->id);
  EXPECT_EQ(created.tags.at(cloud::kNodeTag), "node-a");
  EXPECT_EQ(created.mac, nic->mac);
  EXPECT_EQ(created.instance_id, "i-0123456789abcdef0");
  EXPECT_EQ(p.interfaces().size(), 2u);
}

// EC2 leaves an interface attached by AttachNetworkInterface behind when the instance
// terminates, holding its addresses: the refill marks quasar's to go with the instance, off the
// ADD's path, and again after a failure; the primary is never touched.
TEST_F(EniPoolTest, InterfacesQuasarAttachesAreDeletedWithTheInstance) {
  auto& p = pool();
  for (int i = 0; i < 3; ++i) take();
  cloud_->resetCalls();
  auto nic = p.interfaceOf(take());
  ASSERT_TRUE(nic.has_value());
  EXPECT_EQ(cloud_->calls("setDeleteOnTermination"), 0);  // not on the ADD's path
  EXPECT_FALSE(cloud_->interface(nic->id).delete_on_termination);

  cloud_->throttle("setDeleteOnTermination", 1);
  EXPECT_TRUE(absl::IsUnavailable(p.refill(2000))) << "the failure is reported";
  EXPECT_FALSE(cloud_->interface(nic->id).delete_on_termination);
  EXPECT_TRUE(p.refill(3000).ok());
  EXPECT_TRUE(cloud_->interface(nic->id).delete_on_termination);
  EXPECT_EQ(cloud_->calls("setDeleteOnTermination"), 2) << "the new interface's only";

  ASSERT_TRUE(p.refill(4000).ok());
  EXPECT_EQ(cloud_->calls("setDeleteOnTermination"), 2) << "marked once";
}

TEST_F(EniPoolTest, PastTheLimitTheReasonNamesTypeFormulaAndLimit) {
  auto& p = pool();
  std::vector<conf::IpAddress> taken;
  for (int i = 0; i < 9; ++i) taken.push_back(take());
  cloud_->resetCalls();
  auto over = p.take(1000);
  ASSERT_TRUE(absl::IsResourceExhausted(over.status())) << over.status();
  EXPECT_EQ(reasonOf(over.status()), FailureReason::kNodeAddressLimit);
  const std::string msg(over.status().message());
  EXPECT_NE(msg.find("t3.small"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3 ENIs x (4 IPs - 1) + 2 = 11"), std::string::npos) << msg;
  EXPECT_NE(msg.find("hold 9 pod addresses"), std::string::npos) << msg;
  EXPECT_EQ(cloud_->totalCalls(), 0);  // the limit is known without asking

  p.released(taken[4], false, 2000);
  auto again = p.take(2000);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, taken[4]);
  EXPECT_EQ(cloud_->totalCalls(), 0);
}

TEST_F(EniPoolTest, AReleasedAddressCoolsDownBeforeItIsHandedOutAgain) {
  auto c = config();
  c.reuse_cooldown_ms = 30'000;
  auto& p = pool(c);
  std::vector<conf::IpAddress> taken;
  for (int i = 0; i < 9; ++i) taken.push_back(take());
  p.released(taken[0], false, 1000);
  auto early = p.take(30'999);
  EXPECT_TRUE(absl::IsUnavailable(early.status())) << early.status();
  EXPECT_EQ(reasonOf(early.status()), FailureReason::kNone);
  auto later = p.take(31'000);
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(*later, taken[0]);
}

TEST_F(EniPoolTest, HeldAddressWaitsForEndHold) {
  auto& p = pool();
  auto a = take();
  p.released(a, /*hold=*/true, 1000);
  EXPECT_EQ(p.status().held, 1);
  EXPECT_NE(take(), a);
  p.endHold(a, 1000);
  EXPECT_EQ(take(), a);
}

TEST_F(EniPoolTest, RefillBringsFreeAddressesToTheIpTargets) {
  auto c = config();
  c.warm_ip_target = 2;
  c.minimum_ip_target = 5;
  auto& p = pool(c);
  ASSERT_TRUE(p.refill(1000).ok());
  EXPECT_EQ(p.status().assigned, 5);  // the floor
  for (int i = 0; i < 4; ++i) take();
  ASSERT_TRUE(p.refill(2000).ok());
  auto st = p.status();
  EXPECT_EQ(st.assigned, 6);  // 4 used + 2 warm
  EXPECT_EQ(st.free, 2);
  EXPECT_EQ(st.desired, 6);
  EXPECT_EQ(st.interfaces.size(), 2u);
  EXPECT_EQ(cloud_->secondaryCount(), 6);
  EXPECT_EQ(st.last_refill_error, "");
}

TEST_F(EniPoolTest, WarmEniTargetKeepsAWholeEnisWorthFree) {
  auto c = config();
  c.warm_eni_target = 1;
  auto& p = pool(c);
  ASSERT_TRUE(p.refill(1000).ok());
  EXPECT_EQ(p.status().assigned, 3);  // the primary's, filled
  take();
  ASSERT_TRUE(p.refill(2000).ok());
  auto st = p.status();
  EXPECT_EQ(st.assigned, 6);
  EXPECT_EQ(st.free, 5);
  EXPECT_EQ(st.interfaces.size(), 2u);
}

TEST_F(EniPoolTest, NeverGrowsPastTheNodesCapacity) {
  auto c = config();
  c.warm_ip_target = 20;
  auto& p = pool(c);
  ASSERT_TRUE(p.refill(1000).ok());
  EXPECT_EQ(p.status().assigned, 9);
  EXPECT_EQ(cloud_->calls("attachInterface"), 2);
  cloud_->resetCalls();
  ASSERT_TRUE(p.refill(2000).ok());
  EXPECT_EQ(cloud_->mutatingCalls(), 0);
}

// A p4d allows 737 pods; the kubelet runs 110: a whole ENI of 49 warm addresses, ENI after ENI,
// would take the subnet's addresses for pods that can never run.
TEST_F(EniPoolTest, ConfiguredMaxPodsCapsTheWarmPool) {
  cloud_ = std::make_unique<cloud::FakeCloudProvider>(instance("p4d.24xlarge", 15, 50),
                                                      subnet("subnet-a", "10.40.0.0/20"));
  auto c = config();
  c.warm_eni_target = 1;
  c.max_pods = 60;
  auto& p = pool(c);
  ASSERT_TRUE(p.refill(1000).ok());
  for (int i = 0; i < 30; ++i) take();
  ASSERT_TRUE(p.refill(2000).ok());
  auto st = p.status();
  EXPECT_EQ(st.limits.max_pods, 60);
  EXPECT_EQ(st.capacity, 60);
  EXPECT_EQ(st.assigned, 60);
  EXPECT_EQ(cloud_->secondaryCount(), 60);
  for (int i = 0; i < 30; ++i) take();
  auto over = p.take(3000);
  EXPECT_EQ(reasonOf(over.status()), FailureReason::kNodeAddressLimit) << over.status();
}

TEST_F(EniPoolTest, SurplusAddressesGoBackOnlyAfterTheCooldown) {
  auto c = config();
  c.warm_ip_target = 2;
  auto& p = pool(c);
  ASSERT_TRUE(p.refill(0).ok());
  auto a = take(), b = take();
  ASSERT_TRUE(p.refill(1).ok());
  EXPECT_EQ(p.status().assigned, 4);
  p.released(a, false, 2);
  p.released(b, false, 2);
  cloud_->resetCalls();
  ASSERT_TRUE(p.refill(10).ok());           // surplus starts
  ASSERT_TRUE(p.refill(10 + 59'999).ok());  // not yet
  EXPECT_EQ(cloud_->calls("unassignPrivateIps"), 0);
  EXPECT_EQ(p.status().assigned, 4);
  ASSERT_TRUE(p.refill(10 + 60'000).ok());
  EXPECT_EQ(cloud_->calls("unassignPrivateIps"), 1);
  EXPECT_EQ(p.status().assigned, 2);
  EXPECT_EQ(cloud_->secondaryCount(), 2);
}

TEST_F(EniPoolTest, SurplusThatEndsBeforeTheCooldownIsKept) {
  auto c = config();
  c.warm_ip_target = 2;
  auto& p = pool(c);
  ASSERT_TRUE(p.refill(0).ok());
  auto a = take(), b = take();
  ASSERT_TRUE(p.refill(1).ok());
  p.released(a, false, 2);
  p.released(b, false, 2);
  ASSERT_TRUE(p.refill(10).ok());  // surplus of 2 starts
  take();
  take();
  ASSERT_TRUE(p.refill(20).ok());  // gone: pods took them
  cloud_->resetCalls();
  ASSERT_TRUE(p.refill(70'000).ok());
  EXPECT_EQ(cloud_->calls("unassignPrivateIps"), 0);
}

TEST_F(EniPoolTest, AnEmptyEniOfQuasarsIsDetachedAndDeletedAfterTheCooldown) {
  auto c = config();
  c.warm_eni_target = 1;
  auto& p = pool(c);
  ASSERT_TRUE(p.refill(0).ok());
  for (int i = 0; i < 3; ++i) take();
  ASSERT_TRUE(p.refill(1).ok());  // ENI 1 warm
  auto busy = take();
  ASSERT_TRUE(p.refill(2).ok());  // ENI 2 warm
  ASSERT_EQ(p.interfaces().size(), 3u);
  const std::string last = p.interfaces().back().id;
  p.released(busy, false, 3);
  cloud_->resetCalls();
  ASSERT_TRUE(p.refill(4).ok());
  EXPECT_EQ(cloud_->mutatingCalls(), 0);
  ASSERT_TRUE(p.refill(4 + 60'000).ok());
  EXPECT_EQ(cloud_->calls("detachInterface"), 1);
  EXPECT_EQ(cloud_->calls("deleteInterface"), 1);
  EXPECT_EQ(cloud_->calls("unassignPrivateIps"), 0);  // whole ENIs only under warm_eni_target
  EXPECT_FALSE(cloud_->interfaces().contains(last));
  EXPECT_EQ(p.interfaces().size(), 2u);
  EXPECT_EQ(p.status().free, 3);
}

// While an empty ENI is being detached the node briefly holds fewer addresses: an ADD then is
// told to retry, not that the node is at its limit.
TEST_F(EniPoolTest, WhileAnEniIsGivenBackATakeIsToldToRetryNotTheLimit) {
  auto c = config();
  c.surplus_cooldown_ms = 0;
  auto& p = pool(c);
  std::vector<conf::IpAddress> taken;
  for (int i = 0; i < 9; ++i) taken.push_back(take());
  for (int i = 6; i < 9; ++i) p.released(taken[i], false, 1000);  // ENI 2 is empty
  std::promise<void> entered, go;
  auto go_future = go.get_future().share();
  cloud_->onCall([&, go_future](const std::string& method) {
    if (method != "detachInterface") return;
    entered.set_value();
    go_future.wait();
  });
  std::thread refill([&] { EXPECT_TRUE(p.refill(2000).ok()); });
  entered.get_future().wait();
  auto during = p.take(2000);
  EXPECT_TRUE(absl::IsUnavailable(during.status())) << during.status();
  EXPECT_EQ(reasonOf(during.status()), FailureReason::kNone);
  go.set_value();
  refill.join();
  cloud_->onCall(nullptr);
  EXPECT_EQ(p.interfaces().size(), 2u);
  auto after = p.take(3000);  // a new ENI takes the freed device index
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(p.interfaceOf(*after)->device_index, 2);
}

TEST_F(EniPoolTest, InterfacesWithoutQuasarsTagAndEfaOnesAreNeverTouched) {
  cloud_ = std::make_unique<cloud::FakeCloudProvider>(instance("test.6eni", 6, 4), subnet());
  auto attached = [&](const std::string& id, int device, const std::string& type,
                      std::map<std::string, std::string> tags, std::vector<conf::IpAddress> ips) {
    cloud::NetworkInterface n;
    n.id = id;
    n.mac = "02:00:00:00:10:0" + std::to_string(device);
    n.subnet_id = "subnet-a";
    n.status = "in-use";
    n.interface_type = type;
    n.attachment_id = "eni-attach-x" + std::to_string(device);
    n.instance_id = "i-0123456789abcdef0";
    n.device_index = device;
    n.primary_ip = ip("10.40.0.20" + std::to_string(device));
    n.secondary_ips = std::move(ips);
    n.tags = std::move(tags);
    cloud_->addInterface(n);
  };
  // EFA, even with quasar's tag; an interface of another tool; one with the RDMA tag; one with
  // the configured usable tag.
  attached("eni-efa", 1, "efa", {{cloud::kNodeTag, "node-a"}}, {ip("10.40.0.101")});
  attached("eni-other", 2, "interface", {}, {ip("10.40.0.102")});
  attached("eni-rdma", 3, "interface", {{cloud::kNodeTag, "node-a"}, {"rdma", "1"}}, {});
  attached("eni-team", 4, "interface", {{"team", "pods"}}, {ip("10.40.0.104")});
  auto c = config();
  c.warm_ip_target = 20;
  c.excluded_tag_keys = {"rdma"};
  c.usable_tag = std::make_pair(std::string("team"), std::string("pods"));
  auto& p = pool(c);
  ASSERT_TRUE(p.refill(1000).ok());
  auto st = p.status();
  EXPECT_EQ(st.untouched, (std::vector<std::string>{"eni-efa", "eni-other", "eni-rdma"}));
  // The primary, eni-team, and one of quasar's at the lowest free device index.
  ASSERT_EQ(st.interfaces.size(), 3u);
  EXPECT_EQ(st.interfaces[1].interface.id, "eni-team");
  EXPECT_FALSE(st.interfaces[1].interface.created_by_quasar);
  EXPECT_EQ(st.interfaces[2].interface.device_index, 5);
  EXPECT_EQ(st.capacity, 9);  // 3 usable ENIs x 3, not the formula's 6 x 3
  EXPECT_EQ(st.assigned, 9);
  for (const auto& id : {"eni-efa", "eni-other", "eni-rdma"}) {
    EXPECT_FALSE(cloud_->touched().contains(id)) << id;
  }
  EXPECT_EQ(cloud_->interface("eni-efa").secondary_ips.size(), 1u);
  for (int i = 0; i < 9; ++i) take();
  auto over = p.take(2000);
  EXPECT_NE(over.status().message().find("3 attached interfaces are not quasar's"),
            std::string::npos)
      << over.status();
}

TEST_F(EniPoolTest, PrimaryReservedFormLeavesThePrimaryAlone) {
  auto c = config();
  c.formula = MaxPodsFormula::kPrimaryReserved;
  auto& p = pool(c);
  auto a = take();
  EXPECT_EQ(p.interfaceOf(a)->device_index, 1);
  EXPECT_TRUE(cloud_->interface("eni-primary").secondary_ips.empty());
  EXPECT_EQ(p.status().capacity, 6);  // (3 - 1) x (4 - 1)
  EXPECT_EQ(p.limits().max_pods, 8);  // (3 - 1) x 4
}

TEST_F(EniPoolTest, ThrottlingDuringRefillDoesNotFailATakeWithAWarmAddress) {
  auto c = config();
  c.warm_ip_target = 2;
  auto& p = pool(c);
  ASSERT_TRUE(p.refill(1000).ok());
  cloud_->throttle("", 100);
  EXPECT_TRUE(take().isV4());
  auto r = p.refill(2000);
  EXPECT_TRUE(absl::IsUnavailable(r)) << r;
  EXPECT_NE(p.status().last_refill_error.find("RequestLimitExceeded"), std::string::npos);
  EXPECT_TRUE(take().isV4());
  // Nothing warm left: the cold path meets the throttling and says "try again later".
  EXPECT_TRUE(absl::IsUnavailable(p.take(3000).status()));
}

TEST_F(EniPoolTest, AFailedAttachLeavesNoOrphanAndTheRetryUsesANewToken) {
  auto& p = pool();
  for (int i = 0; i < 3; ++i) take();
  cloud_->throttle("attachInterface", 1);
  EXPECT_TRUE(absl::IsUnavailable(p.take(1000).status()));
  const std::string first = cloud_->lastClientToken();
  EXPECT_EQ(cloud_->calls("deleteInterface"), 1);
  EXPECT_EQ(cloud_->interfaces().size(), 1u);
  take();
  EXPECT_NE(cloud_->lastClientToken(), first);
  EXPECT_FALSE(first.empty());
  EXPECT_EQ(cloud_->interfaces().size(), 2u);
}

}  // namespace
}  // namespace quasar::ipam::eni
