// Upstream Kubernetes' NetworkPolicy e2e cases (test/e2e/network/netpol/network_policy.go,
// "NetworkPolicy between server and client"), first half: ingress selectors, ports, named
// ports, policy and label updates. Each case's policies and expected tables are upstream's, on
// the full 9-pod cluster (x, y, z; a, b, c). Runs on the real kernel (label netns, root).

#include "tests/netpol/fixture.h"

namespace quasar::tests::netpol {
namespace {

using Conformance = NetpolTest;
const PeerMatch kAny{};
const PeerMatch kNsX{"x", ""}, kNsY{"y", ""}, kNsZ{"z", ""};
const PeerMatch kXa{"x", "a"};

// Not policy cases: with no policy every pod reaches every pod on every port and protocol.
TEST_F(Conformance, BaselineEveryPodReachesEveryPod) {
  for (int port : Cluster::kPorts) {
    validate(reach(), port, Protocol::kTcp);
    validate(reach(), port, Protocol::kUdp);
  }
}

TEST_F(Conformance, BaselineEveryPodReachesEveryPodSctp) {
  NETPOL_SKIP_WITHOUT_SCTP();
  for (int port : Cluster::kPorts) validate(reach(), port, Protocol::kSctp);
}

TEST_F(Conformance, DefaultDenyIngress) {
  ASSERT_EQ(apply(policy("x", "deny-ingress", R"(
  podSelector: {}
  policyTypes: [Ingress])")),
            "");
  auto r = reach();
  r.expectPeer(kAny, kNsX, false);
  validate(r, 80);
}

TEST_F(Conformance, DefaultDenyAll) {
  ASSERT_EQ(apply(policy("x", "deny-all", R"(
  podSelector: {}
  policyTypes: [Ingress, Egress])")),
            "");
  auto r = reach();
  r.expectPeer(kAny, kNsX, false);
  r.expectPeer(kNsX, kAny, false);
  validate(r, 80);
}

TEST_F(Conformance, AllowFromPodsInServerNamespaceByPodSelector) {
  ASSERT_EQ(apply(policy("x", "x-a-allows-x-b", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {pod: b}}}])")),
            "");
  auto r = reach();
  r.expectAllIngress("x/a", false);
  r.expect("x/b", "x/a", true);
  validate(r, 80);
}

TEST_F(Conformance, AllowIngressForATarget) {
  ASSERT_EQ(apply(policy("x", "deny-all", R"(
  podSelector: {}
  policyTypes: [Ingress])")),
            "");
  ASSERT_EQ(apply(policy("x", "allow-all-to-a", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {}, namespaceSelector: {}}])")),
            "");
  auto r = reach();
  r.expectPeer(kAny, kNsX, false);
  r.expectAllIngress("x/a", true);
  validate(r, 80);
}

TEST_F(Conformance, AllowIngressFromPodsInAllNamespaces) {
  ASSERT_EQ(apply(policy("x", "allow-from-another-ns", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {}}}])")),
            "");
  validate(reach(), 80);
}

TEST_F(Conformance, AllowOnlyFromADifferentNamespaceByNamespaceSelector) {
  ASSERT_EQ(apply(policy("x", "allow-client-a-via-ns-selector", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}])")),
            "");
  auto r = reach();
  r.expectPeer(kNsX, kXa, false);
  r.expectPeer(kNsZ, kXa, false);
  validate(r, 80);
}

TEST_F(Conformance, PodSelectorWithMatchExpressions) {
  ASSERT_EQ(apply(policy("x", "x-a-allows-x-b", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchExpressions: [{key: pod, operator: In, values: [b]}]}}])")),
            "");
  auto r = reach();
  r.expectAllIngress("x/a", false);
  r.expect("x/b", "x/a", true);
  validate(r, 80);
}

TEST_F(Conformance, NamespaceSelectorWithMatchExpressions) {
  ASSERT_EQ(apply(policy("x", "allow-ns-y-match-selector", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [y]}])")),
            "");
  auto r = reach();
  r.expectPeer(kNsX, kXa, false);
  r.expectPeer(kNsZ, kXa, false);
  validate(r, 80);
}

TEST_F(Conformance, PodSelectorOrNamespaceSelector) {
  ASSERT_EQ(apply(policy("x", "allow-ns-y-match-selector", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [x]}]
    - podSelector: {matchLabels: {pod: b}})")),
            "");
  auto r = reach();
  r.expect("x/a", "x/a", false);
  r.expect("x/c", "x/a", false);
  validate(r, 80);
}

TEST_F(Conformance, PodSelectorAndNamespaceSelector) {
  ASSERT_EQ(apply(policy("x", "allow-ns-y-podselector-and-nsselector", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [x]}]
      podSelector: {matchLabels: {pod: b}})")),
            "");
  auto r = reach();
  r.expectAllIngress("x/a", false);
  r.expect("y/b", "x/a", true);
  r.expect("z/b", "x/a", true);
  validate(r, 80);
}

TEST_F(Conformance, MultiplePodSelectorsAndNamespaceSelectors) {
  ASSERT_EQ(apply(policy("x", "allow-ns-y-z-pod-b-c", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [x]}]
      podSelector:
        matchExpressions: [{key: pod, operator: In, values: [b, c]}])")),
            "");
  auto r = reach();
  r.expectPeer(kNsX, kXa, false);
  r.expect("y/a", "x/a", false);
  r.expect("z/a", "x/a", false);
  validate(r, 80);
}

TEST_F(Conformance, AnyPodSelectors) {
  ASSERT_EQ(apply(policy("x", "allow-ns-x-pod-b-c", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {pod: b}}}, {podSelector: {matchLabels: {pod: c}}}])")),
            "");
  auto r = reach();
  r.expectAllIngress("x/a", false);
  r.expect("x/b", "x/a", true);
  r.expect("x/c", "x/a", true);
  validate(r, 80);
}

TEST_F(Conformance, AllowOnlyFromAPodInADifferentNamespace) {
  ASSERT_EQ(apply(policy("x", "allow-ns-y-pod-a-via-namespace-pod-selector", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
      podSelector: {matchLabels: {pod: a}})")),
            "");
  auto r = reach();
  r.expectAllIngress("x/a", false);
  r.expect("y/a", "x/a", true);
  validate(r, 80);
}

const char kAllowPort81FromY[] = R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]
    ports: [{port: 81, protocol: TCP}])";

TEST_F(Conformance, Ports) {
  ASSERT_EQ(apply(policy("x", "allow-client-a-via-ns-selector", kAllowPort81FromY)), "");
  auto r = reach();
  r.expectPeer(kNsX, kXa, false);
  r.expectPeer(kNsY, kXa, true);
  r.expectPeer(kNsZ, kXa, false);
  validate(r, 81);
}

TEST_F(Conformance, StackedPoliciesWithOverlappingPodSelectors) {
  ASSERT_EQ(apply(policy("x", "allow-client-a-via-ns-selector", kAllowPort81FromY)), "");
  auto allow = reach();
  allow.expectPeer(kNsX, kXa, false);
  allow.expectPeer(kNsY, kXa, true);
  allow.expectPeer(kNsZ, kXa, false);
  validate(allow, 81);
  auto deny = reach();
  deny.expectAllIngress("x/a", false);
  validate(deny, 80);
  ASSERT_EQ(apply(policy("x", "allow-client-a-via-ns-selector-80", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]
    ports: [{port: 80, protocol: TCP}])")),
            "");
  validate(allow, 80);
}

TEST_F(Conformance, AllowAll) {
  ASSERT_EQ(apply(policy("x", "allow-all", R"(
  podSelector: {}
  policyTypes: [Ingress]
  ingress: [{}])")),
            "");
  validate(reach(), 80);
  validate(reach(), 81);
}

TEST_F(Conformance, AllowIngressOnOneNamedPort) {
  ASSERT_EQ(apply(policy("x", "allow-all", R"(
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
  - ports: [{port: serve-81-tcp}])")),
            "");
  validate(reach(), 81);
  auto r = reach();
  r.expectPeer(kAny, kNsX, false);
  validate(r, 80);
}

TEST_F(Conformance, AllowIngressFromNamespaceOnOneNamedPort) {
  ASSERT_EQ(apply(policy("x", "allow-client-a-via-ns-selector-80", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]
    ports: [{port: serve-80-tcp, protocol: TCP}])")),
            "");
  auto r = reach();
  r.expectPeer(kNsX, kXa, false);
  r.expectPeer(kNsZ, kXa, false);
  validate(r, 80);
  auto fail = reach();
  fail.expectAllIngress("x/a", false);
  validate(fail, 81);
}

TEST_F(Conformance, EnforceUpdatedPolicy) {
  const std::string name = "allow-all-mutate-to-deny-all";
  ASSERT_EQ(apply(policy("x", name, R"(
  podSelector: {}
  policyTypes: [Ingress]
  ingress: [{}])")),
            "");
  validate(reach(), 81);
  ASSERT_EQ(apply(policy("x", name, R"(
  podSelector: {}
  policyTypes: [Ingress]
  ingress: [])")),
            "");
  auto r = reach();
  r.expectPeer(kAny, kNsX, false);
  validate(r, 81);
}

TEST_F(Conformance, AllowIngressFromUpdatedNamespace) {
  ASSERT_EQ(apply(policy("x", "allow-client-a-via-ns-selector", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns2: updated}}}])")),
            "");
  auto r = reach();
  r.expectAllIngress("x/a", false);
  validate(r, 80);
  ASSERT_EQ(c().setNamespaceLabels("y", {{"ns", "y"}, {"ns2", "updated"}}), "");
  auto with_label = reach();
  with_label.expectAllIngress("x/a", false);
  with_label.expectPeer(kNsY, kAny, true);
  validate(with_label, 80);
}

TEST_F(Conformance, AllowIngressFromUpdatedPod) {
  ASSERT_EQ(apply(policy("x", "allow-client-a-via-pod-selector", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {pod: b, pod2: updated}}}])")),
            "");
  auto r = reach();
  r.expectAllIngress("x/a", false);
  validate(r, 80);
  ASSERT_EQ(c().setPodLabels("x/b", {{"pod", "b"}, {"pod2", "updated"}}), "");
  auto with_label = reach();
  with_label.expectAllIngress("x/a", false);
  with_label.expect("x/b", "x/a", true);
  validate(with_label, 80);
}

TEST_F(Conformance, DenyIngressFromPodsInOtherNamespaces) {
  ASSERT_EQ(apply(policy("x", "deny-empty-policy", R"(
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {}}}])")),
            "");
  auto r = reach();
  r.expectPeer(kNsY, kNsX, false);
  r.expectPeer(kNsZ, kNsX, false);
  validate(r, 80);
}

TEST_F(Conformance, DenyIngressToUpdatedPod) {
  ASSERT_EQ(apply(policy("x", "deny-ingress-via-label-selector", R"(
  podSelector: {matchLabels: {target: isolated}}
  policyTypes: [Ingress])")),
            "");
  validate(reach(), 80);
  ASSERT_EQ(c().setPodLabels("x/a", {{"pod", "a"}, {"target", "isolated"}}), "");
  auto isolated = reach();
  isolated.expectAllIngress("x/a", false);
  validate(isolated, 80);
}

}  // namespace
}  // namespace quasar::tests::netpol
