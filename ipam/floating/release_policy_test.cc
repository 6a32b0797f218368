// The release policies (issue 13) for every owner kind: what a pod gets back after it is
// deleted and recreated, and what gc() frees.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "ipam/floating/floating_allocator.h"
#include "ipam/floating/memory_lease_store.h"
#include "ipam/floating/test_util.h"

namespace quasar::ipam::floating {
namespace {

using testing::ip;
using ::testing::UnorderedElementsAre;

class ReleasePolicyTest : public ::testing::Test {
 protected:
  ReleasePolicyTest() : alloc_(store_, {.cooldown_ms = 1000}) {
    // One subnet that both nodes sit on.
    Pool p = testing::pool("a", 0, 100, 109);
    p.node_subnets = {testing::prefix("10.20.0.0/24")};
    alloc_.setPools({p});
  }

  // Claims for pod `pod` (uid `uid`) of `w` on node `n`; returns its address.
  std::string add(const WorkloadRef& w, const std::string& pod, const std::string& uid,
                  ReleasePolicy policy, const std::string& n = "n1") {
    auto c = alloc_.claim(testing::request(w, pod, uid, policy, node(n), now_));
    EXPECT_TRUE(c.ok()) << pod << ": " << c.status();
    return c.ok() ? c->lease.ip.toString() : "";
  }
  void del(const std::string& uid) {
    now_ += 10;
    ASSERT_TRUE(alloc_.release({"c-" + uid, "eth0"}, now_).ok());
  }
  NodeFacts node(const std::string& n) {
    return testing::node(n, n == "n1" ? "10.20.0.11" : "10.20.0.12");
  }
  // gc with the workloads in `alive_` (by kind, name and uid); everything else is gone.
  std::vector<std::string> gc() {
    now_ += 10;
    auto freed = alloc_.gc(
        [&](const WorkloadRef& w) {
          auto it = alive_.find(w.name + "/" + w.uid);
          return it == alive_.end() ? WorkloadStatus{} : WorkloadStatus{true, it->second};
        },
        now_);
    EXPECT_TRUE(freed.ok()) << freed.status();
    std::vector<std::string> out;
    if (freed.ok()) {
      for (const auto& l : *freed) out.push_back(l.ip.toString());
    }
    return out;
  }
  std::map<std::string, LeaseState> states() {
    std::map<std::string, LeaseState> out;
    auto leases = alloc_.list();
    EXPECT_TRUE(leases.ok()) << leases.status();
    if (!leases.ok()) return out;
    for (const auto& l : *leases) out[l.ip.toString()] = l.state;
    return out;
  }

  MemoryLeaseStore store_;
  FloatingAllocator alloc_;
  int64_t now_ = 1000;
  std::map<std::string, int64_t> alive_;  // "name/uid" -> replicas
};

TEST_F(ReleasePolicyTest, ReleaseFreesTheAddressWhenThePodIsDeleted) {
  const auto d = testing::workload(WorkloadKind::kDeployment, "d");
  EXPECT_EQ(add(d, "d-1", "u1", ReleasePolicy::kRelease), "10.20.0.100");
  del("u1");
  EXPECT_EQ(states()["10.20.0.100"], LeaseState::kReleased);
  // The replacement replica gets a fresh address (the old one cools down).
  EXPECT_EQ(add(d, "d-2", "u2", ReleasePolicy::kRelease), "10.20.0.101");
}

TEST_F(ReleasePolicyTest, StatefulSetPodGetsItsOwnAddressBackOnAnotherNode) {
  for (auto policy : {ReleasePolicy::kImmutable, ReleasePolicy::kNever}) {
    SCOPED_TRACE(toString(policy));
    const auto web = testing::workload(WorkloadKind::kStatefulSet,
                                       std::string("web-") + std::string(toString(policy)));
    const std::string p0 = web.name + "-0", p1 = web.name + "-1";
    const std::string a0 = add(web, p0, p0 + "a", policy, "n1");
    const std::string a1 = add(web, p1, p1 + "a", policy, "n1");
    del(p1 + "a");
    del(p0 + "a");
    EXPECT_EQ(states()[a0], LeaseState::kUnbound);
    // Recreated in the other order, on n2: each identity takes its own address.
    EXPECT_EQ(add(web, p1, p1 + "b", policy, "n2"), a1);
    EXPECT_EQ(add(web, p0, p0 + "b", policy, "n2"), a0);
  }
}

TEST_F(ReleasePolicyTest, StatefulSetPodTakesOverItsAddressWhenTheOldNodeNeverSentDel) {
  const auto web = testing::workload(WorkloadKind::kStatefulSet, "web");
  const std::string a0 = add(web, "web-0", "old", ReleasePolicy::kImmutable, "n1");
  // n1 died: no DEL. The API server deleted web-0; the new web-0 runs on n2.
  auto c = alloc_.claim(
      testing::request(web, "web-0", "new", ReleasePolicy::kImmutable, node("n2"), now_));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->lease.ip.toString(), a0);
  EXPECT_EQ(c->lease.node, "n2");
  // The late DEL of the old pod changes nothing.
  ASSERT_TRUE(alloc_.release({"c-old", "eth0"}, now_).ok());
  EXPECT_EQ(states()[a0], LeaseState::kBound);
}

TEST_F(ReleasePolicyTest, StatefulSetScaledDownFreesTheOrdinalsAboveReplicas) {
  const auto web = testing::workload(WorkloadKind::kStatefulSet, "web");
  const std::string a0 = add(web, "web-0", "u0", ReleasePolicy::kImmutable);
  const std::string a1 = add(web, "web-1", "u1", ReleasePolicy::kImmutable);
  const std::string a2 = add(web, "web-2", "u2", ReleasePolicy::kImmutable);
  del("u2");
  del("u1");
  alive_["web/" + web.uid] = 2;
  EXPECT_THAT(gc(), UnorderedElementsAre(a2));
  EXPECT_EQ(states()[a1], LeaseState::kUnbound);
  alive_.clear();  // the StatefulSet is deleted
  del("u0");
  EXPECT_THAT(gc(), UnorderedElementsAre(a0, a1));
}

TEST_F(ReleasePolicyTest, DeploymentAddressesStayWithTheDeploymentAndAnyReplicaTakesOne) {
  const auto d = testing::workload(WorkloadKind::kDeployment, "d");
  alive_["d/" + d.uid] = 2;
  const std::string a = add(d, "d-x1", "u1", ReleasePolicy::kImmutable);
  const std::string b = add(d, "d-x2", "u2", ReleasePolicy::kImmutable);
  del("u1");
  del("u2");
  EXPECT_TRUE(gc().empty());
  // New replicas (other names, other nodes) take the Deployment's addresses, no fresh one.
  EXPECT_EQ(add(d, "d-y1", "u3", ReleasePolicy::kImmutable, "n2"), a);
  EXPECT_EQ(add(d, "d-y2", "u4", ReleasePolicy::kImmutable, "n2"), b);
  // Another workload does not get them.
  del("u4");
  EXPECT_EQ(add(testing::workload(WorkloadKind::kDeployment, "e"), "e-1", "u5",
                ReleasePolicy::kImmutable),
            "10.20.0.102");
}

TEST_F(ReleasePolicyTest, DeploymentAddressesAreFreedWhenScaledBelowTheCountOrDeleted) {
  const auto d = testing::workload(WorkloadKind::kDeployment, "d");
  alive_["d/" + d.uid] = 3;
  const std::string a = add(d, "d-1", "u1", ReleasePolicy::kImmutable);
  const std::string b = add(d, "d-2", "u2", ReleasePolicy::kImmutable);
  const std::string c = add(d, "d-3", "u3", ReleasePolicy::kImmutable);
  del("u3");
  EXPECT_TRUE(gc().empty());  // 3 held, 3 replicas
  alive_["d/" + d.uid] = 2;
  EXPECT_THAT(gc(), UnorderedElementsAre(c));
  alive_["d/" + d.uid] = 0;  // scaled to zero: bound ones stay until their pods go
  EXPECT_TRUE(gc().empty());
  del("u1");
  EXPECT_THAT(gc(), UnorderedElementsAre(a));
  alive_.clear();  // deleted
  del("u2");
  EXPECT_THAT(gc(), UnorderedElementsAre(b));
  EXPECT_EQ(states()[b], LeaseState::kReleased);  // cooling down, then forgotten
}

TEST_F(ReleasePolicyTest, ImmutableIsForThatDeploymentNotOneRecreatedUnderItsName) {
  const auto old_d = testing::workload(WorkloadKind::kDeployment, "d", "old");
  const std::string a = add(old_d, "d-1", "u1", ReleasePolicy::kImmutable);
  del("u1");
  const auto new_d = testing::workload(WorkloadKind::kDeployment, "d", "new");
  alive_["d/new"] = 1;
  EXPECT_NE(add(new_d, "d-2", "u2", ReleasePolicy::kImmutable), a);
  EXPECT_THAT(gc(), UnorderedElementsAre(a));
}

TEST_F(ReleasePolicyTest, NeverKeepsTheAddressAfterTheWorkloadIsDeletedAndGivesItBack) {
  for (auto kind : {WorkloadKind::kDeployment, WorkloadKind::kStatefulSet}) {
    SCOPED_TRACE(toString(kind));
    const std::string name = kind == WorkloadKind::kDeployment ? "dep" : "sts";
    const auto w = testing::workload(kind, name, "old");
    const std::string a = add(w, name + "-0", name + "u1", ReleasePolicy::kNever);
    del(name + "u1");
    EXPECT_TRUE(gc().empty());  // the workload is gone (nothing is alive)
    EXPECT_EQ(states()[a], LeaseState::kUnbound);
    const auto again = testing::workload(kind, name, "new");
    EXPECT_EQ(add(again, name + "-0", name + "u2", ReleasePolicy::kNever, "n2"), a);
  }
}

TEST_F(ReleasePolicyTest, PodWithoutOwnerKeepsItsAddressByNamespaceAndName) {
  for (auto policy : {ReleasePolicy::kImmutable, ReleasePolicy::kNever}) {
    SCOPED_TRACE(toString(policy));
    const std::string name = std::string("solo-") + std::string(toString(policy));
    auto first = testing::barePod(name, name + "1", policy, node("n1"), now_);
    auto c1 = alloc_.claim(first);
    ASSERT_TRUE(c1.ok()) << c1.status();
    del(name + "1");
    // Another bare pod does not get it; the same name (new uid, other node) does.
    auto other =
        alloc_.claim(testing::barePod("other-" + name, "o" + name, policy, node("n1"), now_));
    ASSERT_TRUE(other.ok());
    EXPECT_NE(other->lease.ip, c1->lease.ip);
    auto c2 = alloc_.claim(testing::barePod(name, name + "2", policy, node("n2"), now_));
    ASSERT_TRUE(c2.ok()) << c2.status();
    EXPECT_EQ(c2->lease.ip, c1->lease.ip);
  }
}

TEST_F(ReleasePolicyTest, PodWithoutOwnerAndReleaseGetsAFreshAddress) {
  auto first = alloc_.claim(testing::barePod("p", "u1", ReleasePolicy::kRelease, node("n1"), now_));
  ASSERT_TRUE(first.ok());
  const std::string a = first->lease.ip.toString();
  del("u1");
  auto c = alloc_.claim(testing::barePod("p", "u2", ReleasePolicy::kRelease, node("n1"), now_));
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->lease.ip.toString(), a);
}

TEST_F(ReleasePolicyTest, RollingUpdateOfATwoReplicaImmutableDeploymentDoesNotDeadlock) {
  const auto d = testing::workload(WorkloadKind::kDeployment, "d");
  alive_["d/" + d.uid] = 2;
  const std::string a = add(d, "d-old1", "o1", ReleasePolicy::kImmutable);
  const std::string b = add(d, "d-old2", "o2", ReleasePolicy::kImmutable);
  // maxSurge 1: the new pod comes up while both old replicas hold their addresses.
  const std::string c = add(d, "d-new1", "n1", ReleasePolicy::kImmutable, "n2");
  EXPECT_NE(c, a);
  EXPECT_NE(c, b);
  del("o1");  // the first old replica goes; the next new one takes its address
  EXPECT_EQ(add(d, "d-new2", "n2", ReleasePolicy::kImmutable, "n2"), a);
  del("o2");
  // Three held for two replicas: gc frees the extra, unbound one.
  EXPECT_THAT(gc(), UnorderedElementsAre(b));
  EXPECT_TRUE(gc().empty());
  EXPECT_EQ(states()[a], LeaseState::kBound);
  EXPECT_EQ(states()[c], LeaseState::kBound);
}

TEST_F(ReleasePolicyTest, AKeptAddressInAPoolThatDoesNotServeTheNewNodeIsAClearError) {
  Pool far = testing::pool("far", 5, 100, 109);
  far.node_subnets = {testing::prefix("10.20.5.0/24")};
  Pool near = testing::pool("a", 0, 100, 109);
  near.node_subnets = {testing::prefix("10.20.0.0/24")};
  alloc_.setPools({far, near});
  const auto web = testing::workload(WorkloadKind::kStatefulSet, "web");
  auto r = testing::request(web, "web-0", "u1", ReleasePolicy::kImmutable,
                            testing::node("n5", "10.20.5.11"), now_);
  auto c = alloc_.claim(r);
  ASSERT_TRUE(c.ok()) << c.status();
  del("u1");
  auto moved = alloc_.claim(
      testing::request(web, "web-0", "u2", ReleasePolicy::kImmutable, node("n1"), now_));
  ASSERT_TRUE(absl::IsFailedPrecondition(moved.status())) << moved.status();
  EXPECT_THAT(std::string(moved.status().message()),
              ::testing::HasSubstr("does not serve node n1"));
}

}  // namespace
}  // namespace quasar::ipam::floating
