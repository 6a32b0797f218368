#include "daemon/cluster/workloads.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <map>
#include <thread>

#include "daemon/cluster/object_store.h"
#include "daemon/cluster/store_object_source.h"
#include "daemon/store/sqlite_kv_store.h"

namespace quasar::daemon {
namespace {

using objects::Deployment;
using objects::OwnerReference;
using objects::Pod;
using objects::ReplicaSet;
using objects::StatefulSet;
using std::chrono::steady_clock;

OwnerReference controller(const std::string& kind, const std::string& name,
                          const std::string& uid) {
  return {"apps/v1", kind, name, uid, true};
}

objects::ObjectMeta meta(const std::string& name, const std::string& uid,
                         std::vector<OwnerReference> owners = {}) {
  objects::ObjectMeta m;
  m.name = name;
  m.namespace_ = "shop";
  m.uid = uid;
  m.owner_references = std::move(owners);
  return m;
}

Pod pod(const std::string& name, std::vector<OwnerReference> owners = {}) {
  Pod p;
  p.metadata = meta(name, "pod-uid-" + name, std::move(owners));
  return p;
}

// Plain maps by name (namespace "shop" only).
class MapLookup : public WorkloadLookup {
 public:
  std::map<std::string, StatefulSet> sets;
  std::map<std::string, Deployment> deployments;
  std::map<std::string, ReplicaSet> replica_sets;

  std::shared_ptr<const StatefulSet> statefulSet(const std::string& ns,
                                                 const std::string& name) const override {
    return find(sets, ns, name);
  }
  std::shared_ptr<const Deployment> deployment(const std::string& ns,
                                               const std::string& name) const override {
    return find(deployments, ns, name);
  }
  std::shared_ptr<const ReplicaSet> replicaSet(const std::string& ns,
                                               const std::string& name) const override {
    return find(replica_sets, ns, name);
  }

 private:
  template <class T>
  static std::shared_ptr<const T> find(const std::map<std::string, T>& m, const std::string& ns,
                                       const std::string& name) {
    auto it = m.find(name);
    if (ns != "shop" || it == m.end()) return nullptr;
    return std::make_shared<const T>(it->second);
  }
};

Workload expected(WorkloadKind kind, const std::string& name, const std::string& uid,
                  int32_t replicas, bool exists, const std::string& via = "") {
  return {kind, std::string(workloadKindName(kind)), "shop", name, uid, replicas, exists, via};
}

TEST(Workloads, APodWithoutAControllerIsItsOwnWorkload) {
  MapLookup none;
  Pod p = pod("solo", {{"v1", "ConfigMap", "cfg", "cm-1", false}});  // an owner, not controller
  EXPECT_EQ(resolveWorkload(p, none),
            expected(WorkloadKind::kPod, "solo", "pod-uid-solo", 1, true));
  EXPECT_EQ(resolveWorkload(p, none).ref(), "Pod shop/solo");
}

TEST(Workloads, AStatefulSetPod) {
  MapLookup l;
  l.sets["db"] = {meta("db", "ss-1"), 3};
  const Pod p = pod("db-0", {controller("StatefulSet", "db", "ss-1")});
  EXPECT_EQ(resolveWorkload(p, l), expected(WorkloadKind::kStatefulSet, "db", "ss-1", 3, true));
  // Deleted, then re-created under the same name: another object, the pod's owner is gone.
  l.sets["db"].metadata.uid = "ss-2";
  EXPECT_EQ(resolveWorkload(p, l), expected(WorkloadKind::kStatefulSet, "db", "ss-1", 0, false));
  l.sets.clear();
  EXPECT_EQ(resolveWorkload(p, l), expected(WorkloadKind::kStatefulSet, "db", "ss-1", 0, false));
}

TEST(Workloads, ADeploymentPodThroughItsReplicaSet) {
  MapLookup l;
  l.deployments["web"] = {meta("web", "d-1"), 4};
  l.replica_sets["web-7d4b9c"] = {
      meta("web-7d4b9c", "rs-1", {controller("Deployment", "web", "d-1")}), 4};
  const Pod p = pod("web-7d4b9c-x2x", {controller("ReplicaSet", "web-7d4b9c", "rs-1")});
  EXPECT_EQ(resolveWorkload(p, l),
            expected(WorkloadKind::kDeployment, "web", "d-1", 4, true, "web-7d4b9c"));
  EXPECT_EQ(resolveWorkload(p, l).ref(), "Deployment shop/web");
  // The Deployment deleted (its ReplicaSet not yet): the workload is gone.
  l.deployments.clear();
  EXPECT_EQ(resolveWorkload(p, l),
            expected(WorkloadKind::kDeployment, "web", "d-1", 0, false, "web-7d4b9c"));
  // The ReplicaSet gone too: whether a Deployment owned it is no longer known.
  l.replica_sets.clear();
  EXPECT_EQ(resolveWorkload(p, l),
            expected(WorkloadKind::kReplicaSet, "web-7d4b9c", "rs-1", 0, false));
}

TEST(Workloads, AReplicaSetWithoutADeploymentIsTheWorkload) {
  MapLookup l;
  // Owned, but by something that is not a Deployment (e.g. an Argo Rollout).
  l.replica_sets["canary"] = {
      meta("canary", "rs-9", {{"argoproj.io/v1alpha1", "Rollout", "canary", "ro-1", true}}), 2};
  l.replica_sets["bare"] = {meta("bare", "rs-8"), 0};
  EXPECT_EQ(resolveWorkload(pod("canary-a", {controller("ReplicaSet", "canary", "rs-9")}), l),
            expected(WorkloadKind::kReplicaSet, "canary", "rs-9", 2, true));
  EXPECT_EQ(resolveWorkload(pod("bare-a", {controller("ReplicaSet", "bare", "rs-8")}), l),
            expected(WorkloadKind::kReplicaSet, "bare", "rs-8", 0, true));
}

TEST(Workloads, OtherControllersAreNamedNotLookedUp) {
  MapLookup l;
  l.sets["agent"] = {meta("agent", "ds-1"), 1};  // same name, but the pod names a DaemonSet
  const Workload w = resolveWorkload(pod("agent-x", {controller("DaemonSet", "agent", "ds-1")}), l);
  EXPECT_EQ(w.kind, WorkloadKind::kOther);
  EXPECT_EQ(w.kind_name, "DaemonSet");
  EXPECT_EQ(w.name, "agent");
  EXPECT_EQ(w.uid, "ds-1");
  EXPECT_TRUE(w.exists);
  // A kind of another group is not apps' StatefulSet.
  const Workload custom = resolveWorkload(
      pod("x", {{"apps.kruise.io/v1beta1", "StatefulSet", "agent", "ds-1", true}}), l);
  EXPECT_EQ(custom.kind, WorkloadKind::kOther);
  EXPECT_EQ(custom.kind_name, "StatefulSet");
}

// Through the object view fed by the datastore (objects as `quasarctl apply` writes them).
class WorkloadsThroughTheView : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/quasar-workloads-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = SqliteKvStore::open(dir_ + "/kv.db");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    objects_ = std::make_unique<ObjectStore>(*store_);
    source_ = std::make_unique<StoreObjectSource>(*store_);
    view_ = std::make_unique<ObjectView>(*source_);
    ASSERT_TRUE(view_->start().ok());
    ASSERT_TRUE(view_->waitSynced(steady_clock::now() + std::chrono::seconds(10)));
  }
  void TearDown() override {
    view_.reset();
    source_.reset();
    objects_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void apply(const std::string& json) {
    auto r = objects_->apply({json});
    ASSERT_TRUE(r.ok()) << r.status();
  }
  void remove(const std::string& json) {
    auto r = objects_->remove({json});
    ASSERT_TRUE(r.ok()) << r.status();
  }
  // The pod's workload once `pred` holds for it (10 s at most).
  Workload waitWorkload(const std::string& pod_name,
                        const std::function<bool(const Workload&)>& pred) {
    const auto until = steady_clock::now() + std::chrono::seconds(10);
    Workload w;
    do {
      if (auto p = view_->get<Pod>("shop", pod_name)) {
        w = resolveWorkload(*p, *view_);
        if (pred(w)) return w;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } while (steady_clock::now() < until);
    return w;
  }
  static std::string podJson(const std::string& name, const std::string& owner_kind,
                             const std::string& owner, const std::string& uid) {
    return R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": ")" + name +
           R"(", "namespace": "shop", "ownerReferences": [{"apiVersion": "apps/v1", "kind": ")" +
           owner_kind + R"(", "name": ")" + owner + R"(", "uid": ")" + uid +
           R"(", "controller": true}]}, "spec": {"containers": [{"name": "c"}]}})";
  }

  std::string dir_;
  std::unique_ptr<SqliteKvStore> store_;
  std::unique_ptr<ObjectStore> objects_;
  std::unique_ptr<StoreObjectSource> source_;
  std::unique_ptr<ObjectView> view_;
};

TEST_F(WorkloadsThroughTheView, DeploymentChainAndScaling) {
  const std::string deployment = R"({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop", "uid": "d-1"}, "spec": {"replicas": 2}})";
  apply(deployment);
  apply(R"({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-1",
    "namespace": "shop", "uid": "rs-1", "ownerReferences": [{"apiVersion": "apps/v1",
    "kind": "Deployment", "name": "web", "uid": "d-1", "controller": true}]}})");
  apply(podJson("web-1-a", "ReplicaSet", "web-1", "rs-1"));
  Workload w = waitWorkload("web-1-a", [](const Workload& w) { return w.exists; });
  EXPECT_EQ(w, expected(WorkloadKind::kDeployment, "web", "d-1", 2, true, "web-1"));
  // Scaled: the view's replicas follow.
  apply(R"({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop", "uid": "d-1"}, "spec": {"replicas": 5}})");
  w = waitWorkload("web-1-a", [](const Workload& w) { return w.replicas == 5; });
  EXPECT_EQ(w.replicas, 5);
  // Deleted: the pod's workload no longer exists.
  remove(deployment);
  w = waitWorkload("web-1-a", [](const Workload& w) { return !w.exists; });
  EXPECT_EQ(w, expected(WorkloadKind::kDeployment, "web", "d-1", 0, false, "web-1"));
}

// Without a stated uid the datastore gives each object one from its creation: a StatefulSet
// deleted and re-created under its name is another object, and its old pod's workload is gone.
TEST_F(WorkloadsThroughTheView, AStatefulSetRecreatedUnderItsNameIsAnotherWorkload) {
  const std::string sts = R"({"apiVersion": "apps/v1", "kind": "StatefulSet",
    "metadata": {"name": "db", "namespace": "shop"}})";
  apply(sts);
  std::shared_ptr<const StatefulSet> first;
  for (int i = 0; i < 1000 && first == nullptr; ++i) {
    first = view_->get<StatefulSet>("shop", "db");
    if (first == nullptr) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->replicas, 1);  // spec absent: Kubernetes' default
  apply(podJson("db-0", "StatefulSet", "db", first->metadata.uid));
  Workload w = waitWorkload("db-0", [](const Workload& w) { return w.exists; });
  EXPECT_EQ(w, expected(WorkloadKind::kStatefulSet, "db", first->metadata.uid, 1, true));
  remove(sts);
  apply(sts);
  w = waitWorkload("db-0", [&](const Workload& w) {
    auto now = view_->get<StatefulSet>("shop", "db");
    return now != nullptr && now->metadata.uid != first->metadata.uid && !w.exists;
  });
  EXPECT_FALSE(w.exists);
  EXPECT_EQ(w.uid, first->metadata.uid);
}

}  // namespace
}  // namespace quasar::daemon
