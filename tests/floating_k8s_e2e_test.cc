// Floating IPs' release policies end to end with the Kubernetes API server stand-in (tests/k8s/,
// docs/k8s-standin.md): StatefulSets, Deployments, their ReplicaSets and pods are made, scaled
// and deleted with the real kubectl, the real plugin adds and deletes the pods
// (CNI_ARGS K8S_POD_NAMESPACE/K8S_POD_NAME/K8S_POD_UID), and `quasarctl fip list` shows what
// each address became. No controller runs in the stand-in: the test does what the StatefulSet,
// ReplicaSet and garbage collector controllers would (one pod per replica, deleting dependents).
//
// quasard's floating housekeeping runs every 0.2 s here (floatingHousekeepingSeconds). "Still
// kept" is checked after two housekeeping passes that certainly saw the change: each pass is
// shown by a canary (a controller-less immutable pod whose deletion the pass frees).
//
// Also: an ADD whose pod's annotations cannot be read (API server down) with pools present.
//
// The test runs in a network namespace of its own (tests/in-netns.sh), which is also the node.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <functional>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <tuple>

#include "tests/eventually.h"
#include "absl/strings/str_cat.h"
#include "tests/k8s_standin.h"
#include "tests/testbed.h"

namespace quasar::tests {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kNs[] = "apps";


std::string podIp(const CmdResult& add) {
  auto j = add.json();
  if (!j.is_object() || !j.contains("ips") || j["ips"].empty()) return "";
  std::string a = j["ips"][0].value("address", "");
  return a.substr(0, a.find('/'));
}

enum class Kind { kStatefulSet, kDeployment };

struct Case {
  std::string policy;  // release, immutable, never
  Kind kind;
};

std::string caseText(const Case& c) {
  return absl::StrCat(c.kind == Kind::kStatefulSet ? "StatefulSet" : "Deployment", "_", c.policy);
}
std::string caseName(const ::testing::TestParamInfo<Case>& info) { return caseText(info.param); }
void PrintTo(const Case& c, std::ostream* os) { *os << caseText(c); }

class FloatingK8sE2E : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    const char* ns = getenv("QUASAR_TEST_NETNS");
    ASSERT_NE(ns, nullptr) << "run through tests/in-netns.sh";
    auto s = K8sStandin::start({"--bookmark-interval", "1"});
    ASSERT_TRUE(s.ok()) << s.status();
    standin_ = std::move(*s);
    // The CRDs (FloatingIPPool among them).
    auto applied = standin_->kubectl(
        absl::StrCat("apply --validate=false -f ", QUASAR_SOURCE_DIR, "/conf/k8s/quasar.yaml"));
    ASSERT_TRUE(applied.ok()) << applied.status();
    Testbed::Options o;
    o.node_ns = ns;
    o.cooldown_seconds = 0;
    o.extra_config = absl::StrCat("kubernetes: {kubeconfig: ", standin_->certKubeconfig(),
                                  "}\nmetricsAddress: \"\"\nfloatingHousekeepingSeconds: 0.2\n");
    bed_ = std::make_unique<Testbed>(o);
    node_ = bed_->nodeName();
    const std::string ip = bed_->nodeIp();
    net_ = ip.substr(0, ip.rfind('.') + 1);
    create(absl::StrCat("apiVersion: v1\nkind: Node\nmetadata:\n  name: ", node_,
                        "\nstatus:\n  addresses: [{type: InternalIP, address: ", ip, "}]\n"));
    create(absl::StrCat("apiVersion: v1\nkind: Namespace\nmetadata: {name: ", kNs, "}\n"));
    create(pool("work", 100, 109));
    create(pool("canary", 120, 129));
    bed_->startDaemon();
    ASSERT_TRUE(eventually([&] {
      const json pools = ctlJson("fip pools");
      return pools.is_array() && pools.size() == 2;
    })) << bed_->daemonLog();
  }
  void TearDown() override {
    bed_.reset();
    standin_.reset();
  }

  std::string pool(const std::string& name, int first, int last) const {
    return absl::StrCat("apiVersion: quasar.io/v1\nkind: FloatingIPPool\nmetadata: {name: ", name,
                        "}\nspec:\n  subnet: ", net_, "0/24\n  gateway: ", net_, "254\n",
                        "  ranges: [\"", net_, first, "-", net_, last, "\"]\n");
  }

  // kubectl create of `yaml`; returns the object's uid (of the first object).
  std::string create(const std::string& yaml) {
    auto r = standin_->kubectl("create --validate=false -o json -f -", yaml);
    EXPECT_TRUE(r.ok()) << r.status() << "\n" << yaml;
    if (!r.ok()) return "";
    try {
      const json j = json::parse(*r);
      return j.contains("items") ? j["items"][0]["metadata"].value("uid", "")
                                 : j["metadata"].value("uid", "");
    } catch (const json::exception& e) {
      ADD_FAILURE() << e.what() << ": " << *r;
      return "";
    }
  }
  void kubectl(const std::string& args) {
    auto r = standin_->kubectl(args);
    EXPECT_TRUE(r.ok()) << args << ": " << r.status();
  }
  json ctlJson(const std::string& args) { return bed_->ctl("-o json " + args).json(); }

  static constexpr char kTemplate[] =
      "  selector: {matchLabels: {app: x}}\n"
      "  template:\n    metadata: {labels: {app: x}}\n"
      "    spec: {containers: [{name: c, image: busybox}]}\n";

  std::string createStatefulSet(const std::string& name, int replicas) {
    return create(absl::StrCat("apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: ", name,
                               ", namespace: ", kNs, "}\nspec:\n  serviceName: ", name,
                               "\n  replicas: ", replicas, "\n", kTemplate));
  }
  std::string createDeployment(const std::string& name, int replicas) {
    return create(absl::StrCat("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ", name,
                               ", namespace: ", kNs, "}\nspec:\n  replicas: ", replicas, "\n",
                               kTemplate));
  }
  std::string createReplicaSet(const std::string& name, const std::string& deployment,
                               const std::string& deployment_uid, int replicas) {
    return create(absl::StrCat(
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: ", name, "\n  namespace: ", kNs,
        "\n  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: ", deployment,
        ", uid: ", deployment_uid, ", controller: true}]\nspec:\n  replicas: ", replicas, "\n",
        kTemplate));
  }
  // A pod on this node asking for pool `pool` under `policy`, controlled by `owner_kind`
  // `owner` (none when empty). Returns its uid.
  std::string createPod(const std::string& name, const std::string& policy,
                        const std::string& owner_kind, const std::string& owner,
                        const std::string& owner_uid, const std::string& pool = "work") {
    std::string owners;
    if (!owner_kind.empty()) {
      owners = absl::StrCat("  ownerReferences: [{apiVersion: apps/v1, kind: ", owner_kind,
                            ", name: ", owner, ", uid: ", owner_uid, ", controller: true}]\n");
    }
    return create(
        absl::StrCat("apiVersion: v1\nkind: Pod\nmetadata:\n  name: ", name, "\n  namespace: ", kNs,
                     "\n", owners, "  annotations:\n    quasar.io/floating-ip-pools: ", pool,
                     "\n    quasar.io/release-policy: ", policy, "\nspec:\n  nodeName: ", node_,
                     "\n  containers: [{name: c, image: busybox}]\n"));
  }

  // Waits until quasard's view has `what` ("pods web-0", "sts db", ...) with `uid`.
  ::testing::AssertionResult inView(const std::string& what, const std::string& uid) {
    json j;
    if (eventually([&] {
          j = ctlJson(absl::StrCat("get ", what, " -n ", kNs));
          return j.is_object() && j["metadata"].value("uid", "") == uid;
        })) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << what << " (uid " << uid << ") not in the view: " << j.dump();
  }
  ::testing::AssertionResult goneFromView(const std::string& what) {
    if (eventually(
            [&] { return bed_->ctl(absl::StrCat("get ", what, " -n ", kNs)).exit_code != 0; })) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << what << " still in the view";
  }

  // The plugin's ADD of pod `pod` (uid `uid`) as container `container`, in a pod namespace of
  // its own; returns the address ("" on failure, which fails the test).
  std::string add(const std::string& container, const std::string& pod, const std::string& uid) {
    bed_->addPod(container);
    auto r = bed_->cni("ADD", container, container, bed_->netConf(), "eth0",
                       {{"CNI_ARGS", absl::StrCat("K8S_POD_NAMESPACE=", kNs, ";K8S_POD_NAME=", pod,
                                                  ";K8S_POD_UID=", uid)}});
    EXPECT_EQ(r.exit_code, 0) << pod << ": " << r.out << r.err << bed_->daemonLog();
    return podIp(r);
  }
  void del(const std::string& container, const std::string& pod) {
    auto r =
        bed_->cni("DEL", container, container, bed_->netConf(), "eth0",
                  {{"CNI_ARGS", absl::StrCat("K8S_POD_NAMESPACE=", kNs, ";K8S_POD_NAME=", pod)}});
    EXPECT_EQ(r.exit_code, 0) << pod << ": " << r.out << r.err;
    bed_->deletePodNs(container);
  }
  // What the kubelet and the API server do when a pod goes: DEL, then the object is removed.
  void deletePod(const std::string& container, const std::string& pod) {
    del(container, pod);
    kubectl(absl::StrCat("delete pod ", pod, " -n ", kNs));
    EXPECT_TRUE(goneFromView("pods " + pod));
  }

  // The lease of `ip` in `quasarctl fip list` (null when there is none).
  json lease(const std::string& ip) {
    for (const auto& l : ctlJson("fip list")) {
      if (l.value("ip", "") == ip) return l;
    }
    return nullptr;
  }
  std::string state(const std::string& ip) {
    const json l = lease(ip);
    return l.is_object() ? l.value("state", "") : "none";
  }
  ::testing::AssertionResult becomes(const std::string& ip, const std::string& want) {
    if (eventually([&] { return state(ip) == want; })) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << ip << " is " << state(ip) << ", not " << want << ": "
                                         << ctlJson("fip list").dump() << bed_->daemonLog();
  }

  // Returns once two housekeeping passes have run entirely after this call (passes run one
  // after another on one thread; each canary is freed by a pass that began after the canary's
  // pod left the view).
  void awaitTwoHousekeepingPasses() {
    for (int i = 0; i < 2; ++i) {
      const std::string name = absl::StrCat("canary-", canaries_++);
      const std::string uid = createPod(name, "immutable", "", "", "", "canary");
      ASSERT_TRUE(inView("pods " + name, uid));
      const std::string ip = add("c" + name, name, uid);
      ASSERT_FALSE(ip.empty());
      deletePod("c" + name, name);
      ASSERT_TRUE(becomes(ip, "none"));
    }
  }

  bool inWorkPool(const std::string& ip) const {
    if (ip.rfind(net_, 0) != 0) return false;
    const int host = std::stoi(ip.substr(net_.size()));
    return host >= 100 && host <= 109;
  }

  void statefulSetCase(const std::string& policy);
  void deploymentCase(const std::string& policy);

  std::unique_ptr<K8sStandin> standin_;
  std::unique_ptr<Testbed> bed_;
  std::string node_;
  std::string net_;
  int canaries_ = 0;
};

TEST_P(FloatingK8sE2E, DeleteRecreateScaleDownAndWorkloadDeletion) {
  if (GetParam().kind == Kind::kStatefulSet) {
    statefulSetCase(GetParam().policy);
  } else {
    deploymentCase(GetParam().policy);
  }
}

void FloatingK8sE2E::statefulSetCase(const std::string& policy) {
  const bool kept = policy != "release";
  std::string sts_uid = createStatefulSet("db", 2);
  ASSERT_TRUE(inView("sts db", sts_uid));
  std::string uid0 = createPod("db-0", policy, "StatefulSet", "db", sts_uid);
  const std::string uid1 = createPod("db-1", policy, "StatefulSet", "db", sts_uid);
  ASSERT_TRUE(inView("pods db-0", uid0));
  ASSERT_TRUE(inView("pods db-1", uid1));
  const std::string ip0 = add("c-db-0-a", "db-0", uid0);
  const std::string ip1 = add("c-db-1-a", "db-1", uid1);
  ASSERT_TRUE(inWorkPool(ip0) && inWorkPool(ip1)) << ip0 << " " << ip1;
  ASSERT_NE(ip0, ip1);
  const json bound = lease(ip0);
  ASSERT_TRUE(bound.is_object()) << ctlJson("fip list").dump();
  EXPECT_EQ(bound.value("state", ""), "bound");
  EXPECT_EQ(bound.value("policy", ""), policy);
  EXPECT_EQ(bound["workload"].value("kind", ""), "StatefulSet") << bound.dump();
  EXPECT_EQ(bound["workload"].value("name", ""), "db");
  EXPECT_EQ(bound["pod"].value("name", ""), "db-0");

  // 1. db-0 deleted and recreated (another uid): kept -> the same address back.
  deletePod("c-db-0-a", "db-0");
  EXPECT_TRUE(becomes(ip0, kept ? "unbound" : "none"));
  uid0 = createPod("db-0", policy, "StatefulSet", "db", sts_uid);
  ASSERT_TRUE(inView("pods db-0", uid0));
  const std::string again = add("c-db-0-b", "db-0", uid0);
  EXPECT_TRUE(inWorkPool(again)) << again;
  if (kept) {
    EXPECT_EQ(again, ip0);
  }
  EXPECT_EQ(state(again), "bound");

  // 2. Scaled to 1: db-1 goes. immutable frees its address (ordinal 1 >= 1 replica), never
  // keeps it, release freed it at DEL.
  kubectl(absl::StrCat("scale sts db -n ", kNs, " --replicas=1"));
  ASSERT_TRUE(eventually([&] {
    const json j = ctlJson(absl::StrCat("get sts db -n ", kNs));
    return j.is_object() && j["spec"].value("replicas", -1) == 1;
  }));
  deletePod("c-db-1-a", "db-1");
  if (policy == "never") {
    awaitTwoHousekeepingPasses();
    EXPECT_EQ(state(ip1), "unbound") << ctlJson("fip list").dump();
  } else {
    EXPECT_TRUE(becomes(ip1, "none"));
  }
  EXPECT_EQ(state(again), "bound");  // db-0 is within the replicas

  // 3. The StatefulSet deleted (with its pod, as the garbage collector would).
  deletePod("c-db-0-b", "db-0");
  kubectl(absl::StrCat("delete sts db -n ", kNs));
  ASSERT_TRUE(goneFromView("sts db"));
  if (policy == "never") {
    awaitTwoHousekeepingPasses();
    EXPECT_EQ(state(ip0), "unbound") << ctlJson("fip list").dump();
    EXPECT_EQ(state(ip1), "unbound");
    // Recreated under the same name (another uid): its pods get their addresses back.
    sts_uid = createStatefulSet("db", 2);
    ASSERT_TRUE(inView("sts db", sts_uid));
    uid0 = createPod("db-0", policy, "StatefulSet", "db", sts_uid);
    const std::string new_uid1 = createPod("db-1", policy, "StatefulSet", "db", sts_uid);
    ASSERT_TRUE(inView("pods db-0", uid0));
    ASSERT_TRUE(inView("pods db-1", new_uid1));
    EXPECT_EQ(add("c-db-0-c", "db-0", uid0), ip0);
    EXPECT_EQ(add("c-db-1-c", "db-1", new_uid1), ip1);
  } else {
    EXPECT_TRUE(becomes(again, "none"));
    EXPECT_TRUE(ctlJson("fip list").empty()) << ctlJson("fip list").dump();
  }
}

void FloatingK8sE2E::deploymentCase(const std::string& policy) {
  const bool kept = policy != "release";
  std::string deploy_uid = createDeployment("web", 2);
  std::string rs_uid = createReplicaSet("web-5d8f", "web", deploy_uid, 2);
  ASSERT_TRUE(inView("deploy web", deploy_uid));
  ASSERT_TRUE(inView("rs web-5d8f", rs_uid));
  const std::string uid_a = createPod("web-5d8f-aaaaa", policy, "ReplicaSet", "web-5d8f", rs_uid);
  const std::string uid_b = createPod("web-5d8f-bbbbb", policy, "ReplicaSet", "web-5d8f", rs_uid);
  ASSERT_TRUE(inView("pods web-5d8f-aaaaa", uid_a));
  ASSERT_TRUE(inView("pods web-5d8f-bbbbb", uid_b));
  const std::string ip_a = add("c-a", "web-5d8f-aaaaa", uid_a);
  const std::string ip_b = add("c-b", "web-5d8f-bbbbb", uid_b);
  ASSERT_TRUE(inWorkPool(ip_a) && inWorkPool(ip_b)) << ip_a << " " << ip_b;
  ASSERT_NE(ip_a, ip_b);
  const json bound = lease(ip_a);
  ASSERT_TRUE(bound.is_object()) << ctlJson("fip list").dump();
  EXPECT_EQ(bound.value("policy", ""), policy);
  // The address belongs to the Deployment (found through the ReplicaSet), not the ReplicaSet.
  EXPECT_EQ(bound["workload"].value("kind", ""), "Deployment") << bound.dump();
  EXPECT_EQ(bound["workload"].value("name", ""), "web");
  EXPECT_EQ(bound["workload"].value("uid", ""), deploy_uid);

  // 1. A replica deleted and its replacement (another name) created: kept -> it takes the
  // Deployment's free address.
  deletePod("c-a", "web-5d8f-aaaaa");
  EXPECT_TRUE(becomes(ip_a, kept ? "unbound" : "none"));
  const std::string uid_c = createPod("web-5d8f-ccccc", policy, "ReplicaSet", "web-5d8f", rs_uid);
  ASSERT_TRUE(inView("pods web-5d8f-ccccc", uid_c));
  const std::string ip_c = add("c-c", "web-5d8f-ccccc", uid_c);
  EXPECT_TRUE(inWorkPool(ip_c)) << ip_c;
  if (kept) {
    EXPECT_EQ(ip_c, ip_a);
  }

  // 2. Scaled to 1 (the ReplicaSet with it, and one replica goes): immutable frees the
  // address beyond the replicas, never keeps it.
  kubectl(absl::StrCat("scale deploy web -n ", kNs, " --replicas=1"));
  kubectl(absl::StrCat("scale rs web-5d8f -n ", kNs, " --replicas=1"));
  ASSERT_TRUE(eventually([&] {
    const json j = ctlJson(absl::StrCat("get deploy web -n ", kNs));
    return j.is_object() && j["spec"].value("replicas", -1) == 1;
  }));
  deletePod("c-c", "web-5d8f-ccccc");
  if (policy == "never") {
    awaitTwoHousekeepingPasses();
    EXPECT_EQ(state(ip_c), "unbound") << ctlJson("fip list").dump();
  } else {
    EXPECT_TRUE(becomes(ip_c, "none"));
  }
  EXPECT_EQ(state(ip_b), "bound");  // the one replica left keeps its own

  // 3. The Deployment deleted, with its ReplicaSet and pod.
  deletePod("c-b", "web-5d8f-bbbbb");
  kubectl(absl::StrCat("delete rs web-5d8f -n ", kNs));
  kubectl(absl::StrCat("delete deploy web -n ", kNs));
  ASSERT_TRUE(goneFromView("deploy web"));
  if (policy == "never") {
    awaitTwoHousekeepingPasses();
    EXPECT_EQ(state(ip_b), "unbound") << ctlJson("fip list").dump();
    EXPECT_EQ(state(ip_c), "unbound");
    // Recreated under the same name: its new replicas take the kept addresses.
    deploy_uid = createDeployment("web", 2);
    rs_uid = createReplicaSet("web-7c9b", "web", deploy_uid, 2);
    ASSERT_TRUE(inView("deploy web", deploy_uid));
    ASSERT_TRUE(inView("rs web-7c9b", rs_uid));
    const std::string uid_d = createPod("web-7c9b-ddddd", policy, "ReplicaSet", "web-7c9b", rs_uid);
    const std::string uid_e = createPod("web-7c9b-eeeee", policy, "ReplicaSet", "web-7c9b", rs_uid);
    ASSERT_TRUE(inView("pods web-7c9b-ddddd", uid_d));
    ASSERT_TRUE(inView("pods web-7c9b-eeeee", uid_e));
    const std::string ip_d = add("c-d", "web-7c9b-ddddd", uid_d);
    const std::string ip_e = add("c-e", "web-7c9b-eeeee", uid_e);
    EXPECT_EQ(std::set<std::string>({ip_d, ip_e}), std::set<std::string>({ip_b, ip_c}));
  } else {
    EXPECT_TRUE(becomes(ip_b, "none"));
    EXPECT_TRUE(ctlJson("fip list").empty()) << ctlJson("fip list").dump();
  }
}

// The API server down and the pod not in quasard's view yet: with floating-IP pools the ADD
// cannot know whether the pod wants one, so it fails with "try again later" (11) naming the pod
// and leaves nothing behind; once the server answers, the retried ADD gets the floating address.
TEST_F(FloatingK8sE2E, AddWithUnreadableAnnotationsAsksToRetry) {
  ASSERT_TRUE(standin_->control("hold-watches?on=1").ok());
  const std::string uid = createPod("fresh", "immutable", "", "", "");
  ASSERT_TRUE(standin_->control("down?seconds=8").ok());
  ASSERT_TRUE(eventually([&] { return !standin_->stats().ok(); }, seconds(5)));
  bed_->addPod("cfresh");
  const std::map<std::string, std::string> args = {
      {"CNI_ARGS",
       absl::StrCat("K8S_POD_NAMESPACE=", kNs, ";K8S_POD_NAME=fresh;K8S_POD_UID=", uid)}};
  auto refused = bed_->cni("ADD", "cfresh", "cfresh", bed_->netConf(), "eth0", args);
  EXPECT_NE(refused.exit_code, 0) << refused.out;
  const json error = refused.json();
  ASSERT_TRUE(error.is_object()) << refused.out << refused.err;
  EXPECT_EQ(error.value("code", -1), 11) << refused.out;
  EXPECT_NE(error.value("msg", "").find("pod apps/fresh"), std::string::npos) << refused.out;
  EXPECT_TRUE(bed_->hostVethsSettled(0).empty());
  EXPECT_TRUE(bed_->allocations().empty()) << bed_->allocations().dump();
  EXPECT_TRUE(ctlJson("fip list").empty()) << ctlJson("fip list").dump();

  ASSERT_TRUE(standin_->waitReady(seconds(30)).ok());
  ASSERT_TRUE(standin_->control("hold-watches?on=0").ok());
  auto retried = bed_->cni("ADD", "cfresh", "cfresh", bed_->netConf(), "eth0", args);
  ASSERT_EQ(retried.exit_code, 0) << retried.out << retried.err << bed_->daemonLog();
  EXPECT_TRUE(inWorkPool(podIp(retried))) << retried.out;
}

INSTANTIATE_TEST_SUITE_P(
    Policies, FloatingK8sE2E,
    ::testing::Values(Case{"release", Kind::kStatefulSet}, Case{"immutable", Kind::kStatefulSet},
                      Case{"never", Kind::kStatefulSet}, Case{"release", Kind::kDeployment},
                      Case{"immutable", Kind::kDeployment}, Case{"never", Kind::kDeployment}),
    caseName);

}  // namespace
}  // namespace quasar::tests
