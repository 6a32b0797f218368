// Cases beyond upstream's list: the rest of issue 14's semantics (endPort, ipBlock in ingress
// and with an overlapping peer, named ports in egress and with ipBlock peers, Exists and
// DoesNotExist, a policy loosened while in force) and quasar.io/v1 NetworkPolicy selecting by
// node labels. Most mirror the truth tables of netpolicy/compiler/explain_test.cc on the real
// kernel. Runs on the real kernel (label netns, root).

#include "tests/netpol/fixture.h"

namespace quasar::tests::netpol {
namespace {

using Semantics = NetpolTest;
using QuasarPolicy = NetpolTest;
const PeerMatch kAny{};
const PeerMatch kNsX{"x", ""}, kNsY{"y", ""}, kNsZ{"z", ""};
const PeerMatch kXa{"x", "a"};

TEST_F(Semantics, EndPortRangeInIngress) {
  ASSERT_EQ(apply(policy("x", "range-80-81", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]
    ports: [{port: 80, endPort: 81, protocol: TCP}])")),
            "");
  auto r = reach();
  r.expectPeer(kNsX, kXa, false);
  r.expectPeer(kNsZ, kXa, false);
  validate(r, 80);
  validate(r, 81);
  auto udp = reach();
  udp.expectAllIngress("x/a", false);
  validate(udp, 80, Protocol::kUdp);
  // A range starting above 80 leaves 80 out.
  ASSERT_EQ(apply(policy("x", "range-80-81", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - ports: [{port: 81, endPort: 90}])")),
            "");
  validate(reach(), 81);
  validate(udp, 80);
}

TEST_F(Semantics, EndPortRangeInEgress) {
  ASSERT_EQ(apply(policy("y", "egress-range", R"(
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - ports: [{port: 79, endPort: 80, protocol: UDP}])")),
            "");
  validate(reach(), 80, Protocol::kUdp);
  auto r = reach();
  r.expectPeer(kNsY, kAny, false);
  validate(r, 81, Protocol::kUdp);
  validate(r, 80, Protocol::kTcp);
}

TEST_F(Semantics, IngressFromAnIpBlockOfOnePod) {
  ASSERT_EQ(apply(policy("x", "from-z-c", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from: [{ipBlock: {cidr: )" + ip("z/c") + R"(/32}}])")),
            "");
  auto r = reach();
  r.expectAllIngress("x/a", false);
  r.expect("z/c", "x/a", true);
  validate(r, 80);
}

// An except never removes an address another peer of the same rule allows.
TEST_F(Semantics, IpBlockExceptAndAnOverlappingPeer) {
  const std::string block = R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 10.0.0.0/8, except: [)" +
                            ip("y/a") + "/32, " + ip("y/b") + "/32, " + ip("y/c") + "/32]}";
  ASSERT_EQ(apply(policy("x", "block", block)), "");
  auto r = reach();
  r.expectPeer(kXa, kNsY, false);
  validate(r, 80);
  ASSERT_EQ(apply(policy("x", "block", block + "\n    - ipBlock: {cidr: " + ip("y/b") + "/32}")),
            "");
  r.expect("x/a", "y/b", true);
  validate(r, 80);
}

TEST_F(Semantics, NamedPortInEgressIsThePeersPort) {
  ASSERT_EQ(apply(policy("x", "named-egress", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {ns: y}}}]
    ports: [{port: serve-80-udp, protocol: UDP}])")),
            "");
  auto r = reach();
  r.expectAllEgress("x/a", false);
  r.expectPeer(kXa, kNsY, true);
  validate(r, 80, Protocol::kUdp);
  auto none = reach();
  none.expectAllEgress("x/a", false);
  validate(none, 80, Protocol::kTcp);
  validate(none, 81, Protocol::kUdp);
}

// In ingress a named port is the target's; in egress through an ipBlock peer it matches nothing
// (an address has no container ports).
TEST_F(Semantics, NamedPortWithIpBlockPeers) {
  ASSERT_EQ(apply(policy("x", "in", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/8}}]
    ports: [{port: serve-80-tcp}])")),
            "");
  ASSERT_EQ(apply(policy("y", "out", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/8}}]
    ports: [{port: serve-80-tcp}])")),
            "");
  auto r = reach();
  r.expectAllEgress("y/a", false);
  validate(r, 80);
  r.expectAllIngress("x/a", false);
  validate(r, 81);
}

TEST_F(Semantics, NamespaceSelectorExists) {
  ASSERT_EQ(apply(policy("x", "from-ns2", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchExpressions: [{key: ns2, operator: Exists}]}}])")),
            "");
  auto r = reach();
  r.expectAllIngress("x/a", false);
  validate(r, 80);
  ASSERT_EQ(c().setNamespaceLabels("z", {{"ns", "z"}, {"ns2", "anything"}}), "");
  r.expectPeer(kNsZ, kXa, true);
  validate(r, 80);
}

TEST_F(Semantics, PodSelectorDoesNotExistAndNotIn) {
  ASSERT_EQ(apply(policy("x", "unmarked", R"(
  podSelector: {matchExpressions: [{key: pod, operator: NotIn, values: [c]}]}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchExpressions: [{key: marked, operator: DoesNotExist}]}
      namespaceSelector: {})")),
            "");
  validate(reach(), 80);
  ASSERT_EQ(c().setPodLabels("y/b", {{"pod", "b"}, {"marked", "yes"}}), "");
  auto r = reach();
  r.expect("y/b", "x/a", false);
  r.expect("y/b", "x/b", false);
  validate(r, 80);
}

TEST_F(Semantics, IngressAndEgressInOnePolicy) {
  ASSERT_EQ(apply(policy("x", "both", R"(
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{podSelector: {matchLabels: {pod: b}}}]
  egress:
  - to: [{namespaceSelector: {matchLabels: {ns: z}}}]
    ports: [{port: 80}])")),
            "");
  auto r = reach();
  r.expectAllIngress("x/a", false);
  r.expect("x/b", "x/a", true);
  r.expectAllEgress("x/a", false);
  r.expectPeer(kXa, kNsZ, true);
  validate(r, 80);
  r.expectAllEgress("x/a", false);
  validate(r, 81);
}

// The reverse of upstream's EnforceUpdatedPolicy: a deny loosened in place.
TEST_F(Semantics, DenyUpdatedToAllow) {
  ASSERT_EQ(apply(policy("x", "mutate", R"(
  podSelector: {}
  policyTypes: [Ingress, Egress])")),
            "");
  auto r = reach();
  r.expectPeer(kAny, kNsX, false);
  r.expectPeer(kNsX, kAny, false);
  validate(r, 80, Protocol::kUdp);
  ASSERT_EQ(apply(policy("x", "mutate", R"(
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress: [{}]
  egress: [{}])")),
            "");
  validate(reach(), 80, Protocol::kUdp);
}

TEST_F(Semantics, PodRelabelledOutOfAPolicy) {
  ASSERT_EQ(apply(policy("y", "isolate-b", R"(
  podSelector: {matchLabels: {pod: b}}
  policyTypes: [Ingress, Egress])")),
            "");
  auto r = reach();
  r.expectAllIngress("y/b", false);
  r.expectAllEgress("y/b", false);
  validate(r, 81);
  ASSERT_EQ(c().setPodLabels("y/b", {{"pod", "b2"}}), "");
  validate(reach(), 81);
}

// quasar.io/v1: a peer's nodeSelector picks the pods on nodes with those labels. All pods run
// on the bed's one node, so its label decides for every source at once (the two-node version is
// in the cluster suite).
TEST_F(QuasarPolicy, PeerNodeSelectorFollowsNodeLabels) {
  ASSERT_EQ(apply(quasarPolicy("x", "from-gpu-nodes", R"(
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - namespaceSelector: {}
      nodeSelector: {matchLabels: {nvidia.com/gpu.present: "true"}})")),
            "");
  auto denied = reach();
  denied.expectAllIngress("x/a", false);
  validate(denied, 80);
  ASSERT_EQ(c().setNodeLabels({{"nvidia.com/gpu.present", "true"}}), "");
  validate(reach(), 80);
  ASSERT_EQ(c().setNodeLabels({{"nvidia.com/gpu.present", "false"}}), "");
  validate(denied, 80);
}

// quasar.io/v1 spec.nodeSelector: the policy's targets are its namespace's pods on matching
// nodes.
TEST_F(QuasarPolicy, SpecNodeSelectorPicksTargetsByNode) {
  ASSERT_EQ(apply(quasarPolicy("z", "deny-on-gpu", R"(
  podSelector: {}
  nodeSelector: {matchExpressions: [{key: nvidia.com/gpu.present, operator: In, values: ["true"]}]}
  policyTypes: [Ingress])")),
            "");
  validate(reach(), 80);
  ASSERT_EQ(c().setNodeLabels({{"nvidia.com/gpu.present", "true"}}), "");
  auto r = reach();
  r.expectPeer(kAny, kNsZ, false);
  validate(r, 80);
  ASSERT_EQ(c().setNodeLabels({}), "");
  validate(reach(), 80);
}

}  // namespace
}  // namespace quasar::tests::netpol
