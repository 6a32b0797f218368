// quasard following the Kubernetes API server stand-in (tests/k8s/, docs/k8s-standin.md), with
// the real kubectl changing objects and the real plugin adding pods. The test runs in a network
// namespace of its own (tests/in-netns.sh), which is also the node: quasard reaches the
// stand-in on that loopback.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "tests/eventually.h"
#include "absl/strings/str_cat.h"
#include "tests/k8s_standin.h"
#include "tests/testbed.h"

namespace quasar::tests {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Polls `pred` every 20 ms until it holds or `timeout` passes.

class K8sE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* ns = getenv("QUASAR_TEST_NETNS");
    ASSERT_NE(ns, nullptr) << "run through tests/in-netns.sh";
    auto s = K8sStandin::start({"--bookmark-interval", "1"});
    ASSERT_TRUE(s.ok()) << s.status();
    standin_ = std::move(*s);
    // quasar's install manifest: its CRDs (FloatingIPPool, quasar.io NetworkPolicy) are kinds
    // quasard watches, and the rest shows it applies to a server.
    auto applied = standin_->kubectl(
        absl::StrCat("apply --validate=false -f ", QUASAR_SOURCE_DIR, "/conf/k8s/quasar.yaml"));
    ASSERT_TRUE(applied.ok()) << applied.status();
    Testbed::Options o;
    o.node_ns = ns;
    o.extra_config = absl::StrCat("kubernetes: {kubeconfig: ", standin_->certKubeconfig(),
                                  "}\nmetricsAddress: \"\"\nlogLevel: debug\n");
    if (kubernetes_ipam_) {
      o.pod_cidr = "";
      o.extra_config += "ipam: kubernetes\n";
    }
    bed_ = std::make_unique<Testbed>(o);
    node_ = bed_->nodeName();
    auto created = standin_->kubectl("create --validate=false -f -", nodeYaml());
    ASSERT_TRUE(created.ok()) << created.status();
    bed_->startDaemon();
    ASSERT_TRUE(eventually([&] {
      return log().find("event=object-view-synced") != std::string::npos;
    })) << log();
  }
  void TearDown() override {
    bed_.reset();
    standin_.reset();
  }
  std::string nodeYaml() const {
    return absl::StrCat("apiVersion: v1\nkind: Node\nmetadata:\n  name: ", node_,
                        "\n  labels: {kubernetes.io/os: linux}\nspec: {podCIDRs: [10.244.7.0/24]}\n"
                        "status:\n  addresses: [{type: InternalIP, address: ",
                        bed_ ? bed_->nodeIp() : "10.250.0.1", "}]\n");
  }
  std::string log() const { return bed_->daemonLog(); }
  ::testing::AssertionResult createNamespace(const std::string& name) {
    auto r = standin_->kubectl("create --validate=false -f -",
                               "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + name + "}\n");
    if (r.ok()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << r.status();
  }
  json ctlJson(const std::string& args) { return bed_->ctl("-o json " + args).json(); }
  static std::string podYaml(const std::string& ns, const std::string& name) {
    return absl::StrCat("apiVersion: v1\nkind: Pod\nmetadata:\n  name: ", name,
                        "\n  namespace: ", ns,
                        "\n  labels: {app: trainer, team: ml}\n  annotations:\n"
                        "    quasar.io/floating-ip: \"false\"\n"
                        "    quasar.io/release-policy: immutable\n"
                        "    example.com/other: ignored\n"
                        "spec:\n  containers:\n  - name: c\n    image: busybox\n"
                        "    ports: [{name: metrics, containerPort: 9090}]\n");
  }

  std::unique_ptr<K8sStandin> standin_;
  std::unique_ptr<Testbed> bed_;
  std::string node_;
  bool kubernetes_ipam_ = false;  // ipam: kubernetes, no podCIDRs in the config
};

class K8sIpamE2E : public K8sE2E {
 protected:
  K8sIpamE2E() { kubernetes_ipam_ = true; }
};

// ipam: kubernetes: the pod CIDR is the Node's spec.podCIDRs (10.244.7.0/24 here), not quasar's.
TEST_F(K8sIpamE2E, PodsTakeAddressesFromTheNodesPodCidrs) {
  bed_->addPod("a");
  auto add = bed_->cni("ADD", "ca", "a", bed_->netConf());
  ASSERT_EQ(add.exit_code, 0) << add.out << add.err;
  const std::string ip = add.json()["ips"][0].value("address", "");
  EXPECT_EQ(ip.rfind("10.244.7.", 0), 0u) << add.out;
  EXPECT_NE(log().find("event=pod-cidrs-from-node"), std::string::npos) << log();
}

// The other mode, for contrast: the config's podCIDRs (10.244.1.0/24) win over the Node's.
TEST_F(K8sE2E, WithQuasarIpamTheConfigsPodCidrsAreUsed) {
  bed_->addPod("a");
  auto add = bed_->cni("ADD", "ca", "a", bed_->netConf());
  ASSERT_EQ(add.exit_code, 0) << add.out << add.err;
  EXPECT_EQ(add.json()["ips"][0].value("address", "").rfind("10.244.1.", 0), 0u) << add.out;
}

TEST_F(K8sE2E, KubectlLabelNodeReachesQuasarctlNodes) {
  auto labelled = standin_->kubectl("label node " + node_ + " nvidia.com/gpu.present=true");
  ASSERT_TRUE(labelled.ok()) << labelled.status();
  auto label_of = [&]() -> std::string {
    for (const auto& n : ctlJson("nodes")) {
      if (n.value("name", "") == node_) return n["labels"].value("nvidia.com/gpu.present", "");
    }
    return "";
  };
  EXPECT_TRUE(eventually([&] { return label_of() == "true"; })) << ctlJson("nodes").dump();
  ASSERT_TRUE(standin_->kubectl("label node " + node_ + " nvidia.com/gpu.present-").ok());
  EXPECT_TRUE(eventually([&] { return label_of().empty(); })) << ctlJson("nodes").dump();
  // quasard's own annotations on its Node, written with a merge patch.
  auto node = standin_->kubectl("get node " + node_ + " -o json");
  ASSERT_TRUE(node.ok());
  EXPECT_TRUE(eventually([&] {
    auto n = standin_->kubectl("get node " + node_ + " -o json");
    return n.ok() && json::parse(*n)["metadata"]["annotations"].value("quasar.io/node-ip", "") ==
                         bed_->nodeIp();
  })) << *node;
}

TEST_F(K8sE2E, KubectlCreatedPodAndPolicyReachTheView) {
  ASSERT_TRUE(createNamespace("ml"));
  ASSERT_TRUE(standin_->kubectl("create --validate=false -f -", podYaml("ml", "trainer-0")).ok());
  json pod;
  EXPECT_TRUE(eventually([&] {
    pod = ctlJson("get pods trainer-0 -n ml");
    return pod.is_object() && pod["metadata"].value("name", "") == "trainer-0";
  })) << log();
  EXPECT_EQ(pod["metadata"]["labels"].value("team", ""), "ml");
  EXPECT_EQ(pod["metadata"]["annotations"].value("quasar.io/floating-ip", ""), "false");
  EXPECT_EQ(pod["spec"]["containers"][0]["ports"][0].value("name", ""), "metrics");

  const std::string policy =
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: only-ml, "
      "namespace: ml}\nspec:\n  podSelector: {matchLabels: {app: trainer}}\n  ingress:\n"
      "  - from: [{namespaceSelector: {matchLabels: {team: ml}}}]\n"
      "    ports: [{port: metrics}]\n";
  ASSERT_TRUE(standin_->kubectl("create --validate=false -f -", policy).ok());
  json np;
  EXPECT_TRUE(eventually([&] {
    np = ctlJson("get networkpolicies only-ml -n ml");
    return np.is_object() && np["metadata"].value("name", "") == "only-ml";
  })) << log();
  EXPECT_EQ(np["spec"]["ingress"][0]["ports"][0]["port"], "metrics");
  EXPECT_EQ(np["spec"]["policyTypes"], json::array({"Ingress"}));

  // Deletions leave the view too; with the API as the source quasarctl does not write.
  ASSERT_TRUE(standin_->kubectl("delete pod trainer-0 -n ml").ok());
  EXPECT_TRUE(eventually([&] { return bed_->ctl("get pods trainer-0 -n ml").exit_code != 0; }));
  auto refused = bed_->ctl("apply -f " + std::string(QUASAR_SOURCE_DIR) +
                           "/conf/k8s/examples/networkpolicy.yaml");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("kubectl"), std::string::npos) << refused.err;
}

// The owners of pods (a floating IP's workload): what kubectl creates, scales and deletes reaches
// the view with its uid, replicas and owner chain.
TEST_F(K8sE2E, KubectlCreatedScaledAndDeletedWorkloadsReachTheView) {
  ASSERT_TRUE(createNamespace("ml"));
  const std::string template_yaml =
      "  selector: {matchLabels: {app: web}}\n"
      "  template:\n    metadata: {labels: {app: web}}\n"
      "    spec: {containers: [{name: c, image: busybox}]}\n";
  ASSERT_TRUE(standin_
                  ->kubectl("create --validate=false -f -",
                            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, "
                            "namespace: ml}\nspec:\n  replicas: 2\n" +
                                template_yaml +
                                "---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: "
                                "{name: db, namespace: ml}\nspec:\n  serviceName: db\n" +
                                template_yaml)
                  .ok());
  auto deployment = standin_->kubectl("get deploy web -n ml -o json");
  ASSERT_TRUE(deployment.ok()) << deployment.status();
  const std::string deployment_uid = json::parse(*deployment)["metadata"].value("uid", "");
  ASSERT_FALSE(deployment_uid.empty());
  ASSERT_TRUE(standin_
                  ->kubectl("create --validate=false -f -",
                            "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: "
                            "web-7d4b9c\n  namespace: ml\n  ownerReferences: [{apiVersion: "
                            "apps/v1, kind: Deployment, name: web, uid: " +
                                deployment_uid + ", controller: true}]\nspec:\n  replicas: 2\n" +
                                template_yaml)
                  .ok());

  // What quasarctl get shows of the view: the uid, the replicas, the owner.
  const auto shown = [&](const std::string& what) -> json {
    json j = ctlJson("get " + what + " -n ml");
    return j.is_object() ? j : json();
  };
  json rs, sts, deploy;
  ASSERT_TRUE(eventually([&] {
    rs = shown("rs web-7d4b9c");
    sts = shown("statefulsets db");
    deploy = shown("deployments web");
    return !rs.is_null() && !sts.is_null() && !deploy.is_null();
  })) << log();
  EXPECT_EQ(deploy["metadata"].value("uid", ""), deployment_uid);
  EXPECT_EQ(deploy["spec"].value("replicas", -1), 2);
  EXPECT_EQ(sts["spec"].value("replicas", -1), 1);  // defaulted by the API server
  EXPECT_EQ(rs["spec"].value("replicas", -1), 2);
  ASSERT_TRUE(rs["metadata"].contains("ownerReferences")) << rs.dump();
  EXPECT_EQ(rs["metadata"]["ownerReferences"][0].value("uid", ""), deployment_uid);
  EXPECT_EQ(rs["metadata"]["ownerReferences"][0].value("kind", ""), "Deployment");

  // kubectl scale (the scale subresource) changes the replicas the view holds.
  ASSERT_TRUE(standin_->kubectl("scale deploy/web -n ml --replicas=5").ok());
  ASSERT_TRUE(standin_->kubectl("scale sts db -n ml --replicas=0").ok());
  const auto replicas = [&](const std::string& what) {
    const json j = shown(what);
    return j.is_object() && j["spec"].is_object() ? j["spec"].value("replicas", -1) : -1;
  };
  EXPECT_TRUE(eventually([&] { return replicas("deploy web") == 5 && replicas("sts db") == 0; }))
      << shown("deploy web").dump() << shown("sts db").dump();
  EXPECT_EQ(shown("deploy web")["metadata"].value("uid", ""), deployment_uid);

  // Deleted: gone from the view.
  for (const char* what : {"deploy web", "rs web-7d4b9c", "sts db"}) {
    ASSERT_TRUE(standin_->kubectl(absl::StrCat("delete ", what, " -n ml")).ok()) << what;
  }
  EXPECT_TRUE(eventually([&] {
    return bed_->ctl("get deploy web -n ml").exit_code != 0 &&
           bed_->ctl("get rs web-7d4b9c -n ml").exit_code != 0 &&
           bed_->ctl("get sts db -n ml").exit_code != 0;
  })) << log();
  EXPECT_TRUE(ctlJson("get deployments -n ml")["items"].empty());
}

// The kubelet calls ADD right after the pod is scheduled: a view that has not seen the pod yet
// (here its watches are held back) asks the API server directly.
TEST_F(K8sE2E, AddReadsThePodsAnnotationsAlsoBeforeTheViewHasThePod) {
  ASSERT_TRUE(createNamespace("ml"));
  ASSERT_TRUE(standin_->control("hold-watches?on=1").ok());
  ASSERT_TRUE(standin_->kubectl("create --validate=false -f -", podYaml("ml", "fresh")).ok());
  bed_->addPod("fresh");
  auto add = bed_->cni("ADD", "cfresh", "fresh", bed_->netConf(), "eth0",
                       {{"CNI_ARGS", "K8S_POD_NAMESPACE=ml;K8S_POD_NAME=fresh"}});
  ASSERT_EQ(add.exit_code, 0) << add.out << add.err;
  auto shown = ctlJson("ipam show cfresh");
  EXPECT_EQ(shown["pod"].value("lookup", ""), "direct") << shown.dump();
  EXPECT_EQ(shown["pod"]["annotations"].value("quasar.io/release-policy", ""), "immutable");
  EXPECT_FALSE(shown["pod"]["annotations"].contains("example.com/other"));
  EXPECT_FALSE(shown["pod"].value("uid", "").empty());  // learnt from the API server
  ASSERT_TRUE(standin_->control("hold-watches?on=0").ok());

  // Once the view has the pod, ADD reads it from there.
  ASSERT_TRUE(standin_->kubectl("create --validate=false -f -", podYaml("ml", "later")).ok());
  ASSERT_TRUE(eventually([&] { return bed_->ctl("get pods later -n ml").exit_code == 0; }));
  bed_->addPod("later");
  add = bed_->cni("ADD", "clater", "later", bed_->netConf(), "eth0",
                  {{"CNI_ARGS", "K8S_POD_NAMESPACE=ml;K8S_POD_NAME=later"}});
  ASSERT_EQ(add.exit_code, 0) << add.out << add.err;
  shown = ctlJson("ipam show clater");
  EXPECT_EQ(shown["pod"].value("lookup", ""), "view") << shown.dump();
  EXPECT_EQ(shown["pod"]["annotations"].value("quasar.io/floating-ip", ""), "false");
}

// The API server down for 20 s: ADDs of pods the view has keep working, and the view catches up
// with what changed once it is back.
TEST_F(K8sE2E, AddsKeepWorkingWhileTheApiServerIsDownAndTheViewCatchesUp) {
  ASSERT_TRUE(createNamespace("ml"));
  ASSERT_TRUE(standin_->kubectl("create --validate=false -f -", podYaml("ml", "known")).ok());
  ASSERT_TRUE(eventually([&] { return bed_->ctl("get pods known -n ml").exit_code == 0; }));
  ASSERT_TRUE(standin_->control("down?seconds=20").ok());
  const auto down_at = std::chrono::steady_clock::now();
  // The stand-in answers before it goes down: wait until it refuses.
  ASSERT_TRUE(eventually([&] { return !standin_->stats().ok(); }, seconds(5)));
  bed_->addPod("known");
  auto add = bed_->cni("ADD", "cknown", "known", bed_->netConf(), "eth0",
                       {{"CNI_ARGS", "K8S_POD_NAMESPACE=ml;K8S_POD_NAME=known"}});
  ASSERT_EQ(add.exit_code, 0) << add.out << add.err;
  EXPECT_EQ(ctlJson("ipam show cknown")["pod"].value("lookup", ""), "view");
  // A pod the view does not know cannot be asked about now: the ADD still succeeds.
  bed_->addPod("unknown");
  add = bed_->cni("ADD", "cunknown", "unknown", bed_->netConf(), "eth0",
                  {{"CNI_ARGS", "K8S_POD_NAMESPACE=ml;K8S_POD_NAME=unknown"}});
  ASSERT_EQ(add.exit_code, 0) << add.out << add.err;
  const json unknown = ctlJson("ipam show cunknown");
  EXPECT_EQ(unknown["pod"].value("lookup", "").rfind("unavailable", 0), 0u) << unknown.dump();
  // The server really was down meanwhile (the ADDs did not wait it out).
  EXPECT_LT(std::chrono::steady_clock::now() - down_at, seconds(15));
  EXPECT_FALSE(standin_->kubectl("get nodes").ok());

  ASSERT_TRUE(standin_->waitReady(seconds(30)).ok());
  ASSERT_TRUE(standin_->kubectl("label node " + node_ + " after-outage=yes").ok());
  ASSERT_TRUE(standin_->kubectl("create --validate=false -f -", podYaml("ml", "after")).ok());
  EXPECT_TRUE(
      eventually([&] { return bed_->ctl("get pods after -n ml").exit_code == 0; }, seconds(30)))
      << log();
  EXPECT_TRUE(eventually([&] {
    for (const auto& n : ctlJson("nodes")) {
      if (n.value("name", "") == node_) return n["labels"].value("after-outage", "") == "yes";
    }
    return false;
  }));
}

}  // namespace
}  // namespace quasar::tests
