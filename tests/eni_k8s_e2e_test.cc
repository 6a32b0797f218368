// ENI mode with the Kubernetes API source (issue 15, docs/eni.md): the Node object's labels put
// the node in ENI mode (eni.nodeSelector), and quasard publishes what the instance type allows on
// that Node as quasar.io/max-pods. The API server is the stand-in (docs/k8s-standin.md), EC2 is
// vpc-sim (docs/vpc-sim.md); the test's own namespace is both the stand-in's host and vpc-sim's
// instance (it keeps its own default route; vpc-sim routes only the VPC and IMDS into it).
// Label netns, run through tests/in-netns.sh.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/eventually.h"
#include "tests/k8s_standin.h"
#include "tests/testbed.h"
#include "tests/vpc_sim.h"

namespace quasar::tests {
namespace {

using nlohmann::json;

TEST(EniK8sE2E, TheNodeObjectsLabelsChooseEniModeAndItsMaxPodsIsPublished) {
  const char* ns = getenv("QUASAR_TEST_NETNS");
  ASSERT_NE(ns, nullptr) << "run through tests/in-netns.sh";
  json config = VpcSim::exampleConfig(bedPrefix(92), 1);
  config["instances"][0]["netns"] = ns;
  config["instances"][0]["defaultRoute"] = false;
  auto sim = VpcSim::start({config});
  ASSERT_TRUE(sim.ok()) << sim.status();
  auto standin = K8sStandin::start({"--bookmark-interval", "1"});
  ASSERT_TRUE(standin.ok()) << standin.status();
  // quasar's CRDs: kinds quasard's object view waits for.
  auto applied = (*standin)->kubectl(
      absl::StrCat("apply --validate=false -f ", QUASAR_SOURCE_DIR, "/conf/k8s/quasar.yaml"));
  ASSERT_TRUE(applied.ok()) << applied.status();

  Testbed::Options o;
  o.node_ns = ns;
  o.extra_config =
      absl::StrCat("kubernetes: {kubeconfig: ", (*standin)->certKubeconfig(),
                   "}\nmetricsAddress: \"\"\nroutingMode: host-gw\nnetworkPolicy: false\neni:\n"
                   "  nodeSelector: {nvidia.com/gpu.present: \"true\"}\n  ec2Endpoint: ",
                   (*sim)->endpoint(VpcSim::instanceId(1)),
                   "\n  imdsEndpoint: ", (*sim)->imdsEndpoint(), "\n  refillSeconds: 0.2\n");
  Testbed bed(o);
  // Only the Node object says this is a GPU node; the config's labels do not.
  auto created = (*standin)->kubectl(
      "create --validate=false -f -",
      absl::StrCat("apiVersion: v1\nkind: Node\nmetadata:\n  name: ", bed.nodeName(),
                   "\n  labels: {nvidia.com/gpu.present: \"true\"}\nstatus:\n  addresses: "
                   "[{type: InternalIP, address: ",
                   bed.nodeIp(), "}]\n"));
  ASSERT_TRUE(created.ok()) << created.status();
  bed.startDaemon();

  // sim.large: 3 interfaces x 4 addresses, AWS's formula: 3 x (4 - 1) + 2.
  std::string last;
  EXPECT_TRUE(eventually([&] {
    auto n = (*standin)->kubectl("get node " + bed.nodeName() + " -o json");
    if (!n.ok()) return false;
    last = *n;
    return json::parse(*n)["metadata"]["annotations"].value("quasar.io/max-pods", "") == "11";
  })) << last
      << bed.daemonLog();
  bed.addPod("p0");
  auto r = bed.cni("ADD", "c-p0", "p0", bed.netConf());
  ASSERT_EQ(r.exit_code, 0) << r.out << bed.daemonLog();
  EXPECT_EQ(podIpOf(r).rfind("10.30.1.", 0), 0u) << podIpOf(r);
}

}  // namespace
}  // namespace quasar::tests
