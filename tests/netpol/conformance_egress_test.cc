// Upstream Kubernetes' NetworkPolicy e2e cases (test/e2e/network/netpol/network_policy.go),
// second half: egress, ingress and egress together, protocols, deletion, ipBlock, the default
// namespace label, and the UDP and SCTP contexts. Upstream's policies and expected tables on the
// full 9-pod cluster. Runs on the real kernel (label netns, root).

#include "tests/netpol/fixture.h"

namespace quasar::tests::netpol {
namespace {

using Conformance = NetpolTest;
const PeerMatch kAny{};
const PeerMatch kNsX{"x", ""}, kNsY{"y", ""}, kNsZ{"z", ""};
const PeerMatch kXa{"x", "a"};

TEST_F(Conformance, DenyEgressFromPodsByPodSelector) {
  ASSERT_EQ(apply(policy("x", "deny-egress-pod-a", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress])")),
            "");
  auto r = reach();
  r.expectAllEgress("x/a", false);
  validate(r, 80);
}

TEST_F(Conformance, DenyEgressFromAllPodsInANamespace) {
  ASSERT_EQ(apply(policy("x", "deny-egress-ns-x", R"(
  podSelector: {}
  policyTypes: [Egress])")),
            "");
  auto r = reach();
  r.expectPeer(kNsX, kAny, false);
  validate(r, 80);
}

TEST_F(Conformance, IngressAndEgressSpecifiedTogether) {
  ASSERT_EQ(apply(policy("x", "allow-client-a-via-pod-selector", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress, Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {pod: b}}}]
  egress:
  - ports: [{port: 80}])")),
            "");
  auto port80 = reach();
  port80.expectAllIngress("x/a", false);
  port80.expect("x/b", "x/a", true);
  validate(port80, 80);
  auto port81 = reach();
  port81.expectAllIngress("x/a", false);
  port81.expectAllEgress("x/a", false);
  port81.expect("x/b", "x/a", true);
  validate(port81, 81);
}

TEST_F(Conformance, DenyEgressOnTheClientSideEvenIfTheServerAllowsIt) {
  ASSERT_EQ(apply(policy("x", "allow-to-ns-y-pod-a", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
      podSelector: {matchLabels: {pod: a}})")),
            "");
  const std::string from_xa = R"(
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: x}}
      podSelector: {matchLabels: {pod: a}})";
  ASSERT_EQ(apply(policy("y", "allow-from-xa-on-ya-match-selector",
                         "\n  podSelector: {matchLabels: {pod: a}}" + from_xa)),
            "");
  ASSERT_EQ(apply(policy("y", "allow-from-xa-on-yb-match-selector",
                         "\n  podSelector: {matchLabels: {pod: b}}" + from_xa)),
            "");
  auto r = reach();
  r.expectPeer(kXa, kAny, false);
  r.expectPeer(kAny, PeerMatch{"y", "a"}, false);
  r.expectPeer(kXa, PeerMatch{"y", "a"}, true);
  r.expectPeer(kAny, PeerMatch{"y", "b"}, false);
  validate(r, 80);
}

TEST_F(Conformance, EgressToAServerInADifferentNamespaceByPodAndNamespaceSelector) {
  ASSERT_EQ(apply(policy("x", "allow-to-ns-y-pod-a", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
      podSelector: {matchLabels: {pod: a}})")),
            "");
  auto r = reach();
  r.expectAllEgress("x/a", false);
  r.expect("x/a", "y/a", true);
  validate(r, 80);
}

TEST_F(Conformance, IngressAllowingAnyPortOfOneProtocol) {
  ASSERT_EQ(apply(policy("x", "allow-ingress-by-proto", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - ports: [{protocol: TCP}])")),
            "");
  validate(reach(), 80, Protocol::kTcp);
  auto udp = reach();
  udp.expectPeer(kAny, kXa, false);
  validate(udp, 80, Protocol::kUdp);
}

TEST_F(Conformance, IngressAllowAllTakesPrecedence) {
  ASSERT_EQ(apply(policy("x", "allow-ingress-port-80", R"(
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
  - ports: [{port: 80}])")),
            "");
  auto r = reach();
  r.expectPeer(kAny, kNsX, false);
  validate(r, 81);
  ASSERT_EQ(apply(policy("x", "allow-ingress", R"(
  podSelector: {}
  policyTypes: [Ingress]
  ingress: [{}])")),
            "");
  validate(reach(), 81);
}

TEST_F(Conformance, EgressAllowAllTakesPrecedence) {
  ASSERT_EQ(apply(policy("x", "allow-egress-port-80", R"(
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - ports: [{port: 80}])")),
            "");
  auto r = reach();
  r.expectPeer(kNsX, kAny, false);
  validate(r, 81);
  ASSERT_EQ(apply(policy("x", "allow-egress", R"(
  podSelector: {}
  policyTypes: [Egress]
  egress: [{}])")),
            "");
  validate(reach(), 81);
}

TEST_F(Conformance, StopEnforcingPoliciesAfterTheyAreDeleted) {
  ASSERT_EQ(apply(policy("x", "deny-all", R"(
  podSelector: {}
  policyTypes: [Ingress, Egress])")),
            "");
  auto r = reach();
  r.expectPeer(kNsX, kAny, false);
  r.expectPeer(kAny, kNsX, false);
  validate(r, 80);
  ASSERT_EQ(c().deleteAllPolicies(), "");
  validate(reach(), 80);
}

TEST_F(Conformance, AllowEgressToAServerInACidrBlock) {
  ASSERT_EQ(apply(policy("x", "allow-client-a-via-cidr-egress-rule", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: )" + ip("y/b") + R"(/32}}])")),
            "");
  auto r = reach();
  r.expectAllEgress("x/a", false);
  r.expect("x/a", "y/b", true);
  validate(r, 80);
}

// Upstream's makeLargeCIDRForIP: the /4 holding the address.
std::string largeCidr(const std::string& ip) {
  const int first = std::stoi(ip.substr(0, ip.find('.')));
  return std::to_string(first & 0xf0) + ".0.0.0/4";
}

std::string exceptPolicy(const std::string& pod_ip) {
  return policy("x", "allow-client-a-via-cidr-egress-rule",
                R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: )" +
                    largeCidr(pod_ip) + ", except: [" + pod_ip + "/32]}}]");
}

TEST_F(Conformance, EnforceExceptWhileAllowingEgressToACidrBlock) {
  ASSERT_EQ(apply(exceptPolicy(ip("x/b"))), "");
  auto r = reach();
  r.expect("x/a", "x/b", false);
  validate(r, 80);
}

TEST_F(Conformance, AnAddressInBothCidrAndExceptIsAllowedByAnotherPolicy) {
  ASSERT_EQ(apply(exceptPolicy(ip("x/b"))), "");
  auto r = reach();
  r.expect("x/a", "x/b", false);
  validate(r, 80);
  // Upstream replaces the policy (same name) with one allowing only x/b.
  ASSERT_EQ(apply(policy("x", "allow-client-a-via-cidr-egress-rule", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: )" + ip("x/b") + R"(/32}}])")),
            "");
  auto allow = reach();
  allow.expectAllEgress("x/a", false);
  allow.expect("x/a", "x/b", true);
  validate(allow, 80);
}

TEST_F(Conformance, IngressAndEgressControlledIndependently) {
  ASSERT_EQ(apply(policy("x", "allow-egress-for-target", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{}])")),
            "");
  validate(reach(), 80);
  ASSERT_EQ(apply(policy("x", "deny-ingress-via-label-selector", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress])")),
            "");
  auto r = reach();
  r.expectAllIngress("x/a", false);
  validate(r, 80);
}

// Runs without SCTP in the kernel too: allowing SCTP must not allow TCP.
TEST_F(Conformance, SctpIsNotMistakenForTcp) {
  ASSERT_EQ(apply(policy("x", "deny-ingress", R"(
  podSelector: {}
  policyTypes: [Ingress])")),
            "");
  ASSERT_EQ(apply(policy("x", "allow-only-sctp-ingress-on-port-81", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - ports: [{port: 81, protocol: SCTP}])")),
            "");
  auto r = reach();
  r.expectPeer(kAny, kNsX, false);
  validate(r, 81);
}

TEST_F(Conformance, APolicyAllowingSctpIsolatesItsPods) {
  ASSERT_EQ(apply(policy("x", "allow-only-sctp-ingress-on-port-80", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - ports: [{port: 80, protocol: SCTP}])")),
            "");
  auto r = reach();
  r.expectAllIngress("x/a", false);
  validate(r, 81);
}

TEST_F(Conformance, NoTcpWhenAPolicyAllowsOnlyUdp) {
  ASSERT_EQ(apply(policy("x", "allow-only-udp-ingress-on-port-81", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - ports: [{port: 81, protocol: UDP}])")),
            "");
  auto r = reach();
  r.expectAllIngress("x/a", false);
  validate(r, 81);
}

TEST_F(Conformance, NamespaceSelectorMatchLabelsOnTheDefaultNamespaceLabel) {
  ASSERT_EQ(apply(policy("x", "allow-client-a-via-ns-selector-for-immutable-ns-label", R"(
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

TEST_F(Conformance, NamespaceSelectorMatchExpressionsOnTheDefaultNamespaceLabel) {
  ASSERT_EQ(apply(policy("x", "allow-ns-y-match-selector-for-immutable-ns-label", R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector:
        matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [y]}])")),
            "");
  auto r = reach();
  r.expectPeer(kXa, kNsY, false);
  validate(r, 80);
}

// "NetworkPolicy between server and client using UDP" and "... using SCTP": the same three
// cases per protocol.
class ProtocolCases : public NetpolTest {
 protected:
  void defaultDenyIngress(Protocol proto) {
    ASSERT_EQ(apply(policy("x", "deny-all", R"(
  podSelector: {}
  policyTypes: [Ingress])")),
              "");
    auto r = reach();
    r.expectPeer(kAny, kNsX, false);
    validate(r, 80, proto);
  }
  void ports(Protocol proto) {
    ASSERT_EQ(apply(policy("x", "allow-ingress-on-port-81-ns-x",
                           R"(
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]
    ports: [{port: 81, protocol: )" +
                               std::string(protocolK8s(proto)) + "}]")),
              "");
    auto r = reach();
    r.expectPeer(kNsX, kXa, false);
    r.expectPeer(kNsZ, kXa, false);
    validate(r, 81, proto);
  }
  void podAndNamespaceSelector(Protocol proto) {
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
    validate(r, 80, proto);
  }
};
using ConformanceUdp = ProtocolCases;
using ConformanceSctp = ProtocolCases;

TEST_F(ConformanceUdp, DefaultDenyIngress) { defaultDenyIngress(Protocol::kUdp); }
TEST_F(ConformanceUdp, Ports) { ports(Protocol::kUdp); }
TEST_F(ConformanceUdp, AllowOnlyFromAPodInADifferentNamespace) {
  podAndNamespaceSelector(Protocol::kUdp);
}

TEST_F(ConformanceSctp, DefaultDenyIngress) {
  NETPOL_SKIP_WITHOUT_SCTP();
  defaultDenyIngress(Protocol::kSctp);
}
TEST_F(ConformanceSctp, Ports) {
  NETPOL_SKIP_WITHOUT_SCTP();
  ports(Protocol::kSctp);
}
TEST_F(ConformanceSctp, AllowOnlyFromAPodInADifferentNamespace) {
  NETPOL_SKIP_WITHOUT_SCTP();
  podAndNamespaceSelector(Protocol::kSctp);
}

}  // namespace
}  // namespace quasar::tests::netpol
