#include "netpolicy/compiler/explain.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netpolicy/compiler/compiler.h"
#include "netpolicy/compiler/render.h"
#include "netpolicy/compiler/ruleset_simulator.h"
#include "netpolicy/compiler/test_model.h"

// Truth tables modelled on upstream's e2e suite (kubernetes test/e2e/network/netpol):
// namespaces x, y, z; pods a, b, c. Rows are sources, columns destinations, in the order
// x/a x/b x/c y/a ... z/c; 'X' = allowed, '.' = denied. Every table is also checked against the
// compiled ruleset walked by RulesetSimulator, so explain() and the kernel rules agree.

namespace quasar::netpolicy {
namespace {

using testing::blockPeer;
using testing::e2eCluster;
using testing::nsPeer;
using testing::podPeer;
using testing::sel;
using testing::tcp;

std::string table(const Model& m, int port, Protocol proto) {
  std::vector<std::string> rows;
  for (const auto& from : m.pods) {
    std::string row;
    for (const auto& to : m.pods) {
      auto v = explain(m, from.namespace_name, from.name, to.namespace_name, to.name, port, proto);
      EXPECT_TRUE(v.ok()) << v.status();
      row += v.ok() && v->allowed ? 'X' : '.';
    }
    rows.push_back(row);
  }
  return absl::StrJoin(rows, "\n");
}

// The same table from the compiled rules.
std::string kernelTable(const Model& m, int port, Protocol proto) {
  auto r = compile(m, {conf::Family::kV4, "n1"});
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return "";
  testing::RulesetSimulator sim(*r);
  std::vector<std::string> rows;
  for (const auto& from : m.pods) {
    std::string row;
    for (const auto& to : m.pods) {
      testing::Packet p{from.ips[0], to.ips[0], proto, port};
      row += sim.run(p) == testing::Outcome::kDrop ? '.' : 'X';
    }
    rows.push_back(row);
  }
  return absl::StrJoin(rows, "\n");
}

std::string rows(std::vector<std::string> r) { return absl::StrJoin(r, "\n"); }

void expectTable(const Model& m, int port, Protocol proto, const std::string& want) {
  EXPECT_EQ(table(m, port, proto), want) << "explain(), port " << port;
  EXPECT_EQ(kernelTable(m, port, proto), want) << "compiled rules, port " << port;
}

const std::string kAll = rows(std::vector<std::string>(9, "XXXXXXXXX"));

TEST(Explain, NoPolicyAllowsEverything) {
  Model m = e2eCluster();
  expectTable(m, 80, Protocol::kTcp, kAll);
}

TEST(Explain, DefaultDenyIngress) {
  Model m = e2eCluster();
  m.policies.push_back(testing::policy("x", "deny-ingress", {}));
  expectTable(m, 80, Protocol::kTcp, rows(std::vector<std::string>(9, "...XXXXXX")));
}

TEST(Explain, AllowAllIngress) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "allow-all", {});
  p.ingress.push_back({});
  m.policies.push_back(p);
  expectTable(m, 80, Protocol::kTcp, kAll);
}

TEST(Explain, PodSelectorWithinServerNamespace) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "allow-b", sel({{"pod", "a"}}));
  p.ingress.push_back({{podPeer(sel({{"pod", "b"}}))}, {}});
  m.policies.push_back(p);
  std::vector<std::string> want(9, ".XXXXXXXX");
  want[1] = "XXXXXXXXX";
  expectTable(m, 80, Protocol::kTcp, rows(want));
}

TEST(Explain, NamespaceSelectorNotIn) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "not-y", sel({{"pod", "a"}}));
  p.ingress.push_back({{nsPeer(sel({}, {{"ns", SelectorOp::kNotIn, {"y"}}}))}, {}});
  m.policies.push_back(p);
  std::vector<std::string> want(9, "XXXXXXXXX");
  for (int i = 3; i < 6; ++i) want[i] = ".XXXXXXXX";
  expectTable(m, 80, Protocol::kTcp, rows(want));
}

TEST(Explain, BothSelectorsInOnePeerAreAnded) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "and", sel({{"pod", "a"}}));
  p.ingress.push_back(
      {{Peer{sel({{"pod", "b"}}), sel({}, {{"ns", SelectorOp::kNotIn, {"x"}}}), {}, {}}}, {}});
  m.policies.push_back(p);
  std::vector<std::string> want(9, ".XXXXXXXX");
  want[4] = want[7] = "XXXXXXXXX";  // y/b and z/b
  expectTable(m, 80, Protocol::kTcp, rows(want));
}

TEST(Explain, TwoPeersAreOred) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "or", sel({{"pod", "a"}}));
  p.ingress.push_back({{nsPeer(sel({{"ns", "y"}})), podPeer(sel({{"pod", "b"}}))}, {}});
  m.policies.push_back(p);
  std::vector<std::string> want(9, ".XXXXXXXX");
  want[1] = want[3] = want[4] = want[5] = "XXXXXXXXX";
  expectTable(m, 80, Protocol::kTcp, rows(want));
}

TEST(Explain, DefaultDenyEgress) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "deny-egress", {});
  p.policy_types = {Direction::kEgress};
  m.policies.push_back(p);
  std::vector<std::string> want(9, "XXXXXXXXX");
  for (int i = 0; i < 3; ++i) want[i] = ".........";
  expectTable(m, 80, Protocol::kTcp, rows(want));
}

TEST(Explain, EgressAndIngressMustBothAllow) {
  Model m = e2eCluster();
  Policy deny = testing::policy("x", "deny-egress", sel({{"pod", "a"}}));
  deny.policy_types = {Direction::kEgress};
  Policy allow = testing::policy("y", "allow-all", {});
  allow.ingress.push_back({});
  m.policies = {deny, allow};
  auto v = explain(m, "x", "a", "y", "b", 80, Protocol::kTcp);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->allowed);
  EXPECT_FALSE(v->egress.allowed);
  EXPECT_TRUE(v->ingress.allowed);
  ASSERT_EQ(v->ingress.allowing.size(), 1u);
  EXPECT_EQ(v->ingress.allowing[0], (RuleRef{"y", "allow-all", 0, ""}));
  EXPECT_EQ(describe(*v),
            "denied\negress: isolated by x/deny-egress; no rule allows it\n"
            "ingress: isolated by y/allow-all; allowed by y/allow-all#0\n");
}

TEST(Explain, NamedPortIsResolvedOnTheDestination) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "named", sel({{"pod", "a"}}));
  p.ingress.push_back({{}, {testing::named("serve-81-tcp")}});
  m.policies.push_back(p);
  expectTable(m, 81, Protocol::kTcp, kAll);
  expectTable(m, 80, Protocol::kTcp, rows(std::vector<std::string>(9, ".XXXXXXXX")));
  // The same name on another port in one pod moves only that pod's rule.
  m.pods[0].ports = {{"serve-81-tcp", 8081, Protocol::kTcp}};
  expectTable(m, 81, Protocol::kTcp, rows(std::vector<std::string>(9, ".XXXXXXXX")));
  expectTable(m, 8081, Protocol::kTcp, kAll);
}

TEST(Explain, NamedPortInEgressUsesThePeersPorts) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "named-egress", sel({{"pod", "a"}}));
  p.policy_types = {Direction::kEgress};
  p.egress.push_back(
      {{nsPeer(sel({{"ns", "y"}}))}, {testing::named("serve-80-udp", Protocol::kUdp)}});
  m.policies.push_back(p);
  std::vector<std::string> want(9, "XXXXXXXXX");
  want[0] = "...XXX...";
  expectTable(m, 80, Protocol::kUdp, rows(want));
  want[0] = ".........";
  expectTable(m, 80, Protocol::kTcp, rows(want));
}

TEST(Explain, NamedPortWithIpBlockPeers) {
  Model m = e2eCluster();
  Policy in = testing::policy("x", "in", sel({{"pod", "a"}}));
  in.ingress.push_back({{blockPeer("10.1.1.0/24")}, {testing::named("serve-80-tcp")}});
  m.policies.push_back(in);
  std::vector<std::string> want(9, ".XXXXXXXX");
  want[3] = want[4] = want[5] = "XXXXXXXXX";
  expectTable(m, 80, Protocol::kTcp, rows(want));
  // In egress a named port means a pod's port; an ipBlock peer has none.
  Policy out = testing::policy("y", "out", sel({{"pod", "a"}}));
  out.policy_types = {Direction::kEgress};
  out.egress.push_back({{blockPeer("10.1.0.0/16")}, {testing::named("serve-80-tcp")}});
  m.policies = {out};
  want.assign(9, "XXXXXXXXX");
  want[3] = ".........";
  expectTable(m, 80, Protocol::kTcp, rows(want));
}

TEST(Explain, EndPortRange) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "range", sel({{"pod", "a"}}));
  PortSpec range = tcp(80);
  range.end_port = 81;
  p.ingress.push_back({{}, {range}});
  m.policies.push_back(p);
  expectTable(m, 80, Protocol::kTcp, kAll);
  expectTable(m, 81, Protocol::kTcp, kAll);
  expectTable(m, 82, Protocol::kTcp, rows(std::vector<std::string>(9, ".XXXXXXXX")));
  expectTable(m, 80, Protocol::kUdp, rows(std::vector<std::string>(9, ".XXXXXXXX")));
}

TEST(Explain, IpBlockExceptAndAnOverlappingPeer) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "block", sel({{"pod", "a"}}));
  p.policy_types = {Direction::kEgress};
  p.egress.push_back({{blockPeer("10.1.0.0/16", {"10.1.1.0/24"})}, {}});
  m.policies.push_back(p);
  std::vector<std::string> want(9, "XXXXXXXXX");
  want[0] = "XXX...XXX";  // y is the except
  expectTable(m, 80, Protocol::kTcp, rows(want));
  // Another peer of the same rule allowing y/b: the except does not remove it.
  m.policies[0].egress[0].peers.push_back(blockPeer("10.1.1.2/32"));
  want[0] = "XXX.X.XXX";
  expectTable(m, 80, Protocol::kTcp, rows(want));
}

TEST(Explain, PeerNodeSelectorPicksPodsOnGpuNodes) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "gpu-only", sel({{"pod", "a"}}));
  p.ingress.push_back({{Peer{{}, LabelSelector{}, sel({{"gpu", "true"}}), {}}}, {}});
  m.policies.push_back(p);
  std::vector<std::string> want(9, ".XXXXXXXX");
  want[6] = want[7] = want[8] = "XXXXXXXXX";  // z runs on the GPU node n2
  expectTable(m, 80, Protocol::kTcp, rows(want));
  // A node label change changes who is allowed (set members, not rules).
  auto before = compile(m, {conf::Family::kV4, "n1"});
  m.nodes[0].labels["gpu"] = "true";
  auto after = compile(m, {conf::Family::kV4, "n1"});
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_EQ(renderIptables(*before), renderIptables(*after));
  expectTable(m, 80, Protocol::kTcp, kAll);
}

TEST(Explain, SpecNodeSelectorPicksTargetsByNode) {
  Model m = e2eCluster();
  Policy p = testing::policy("z", "deny-on-gpu", {});
  p.node_selector = sel({{"gpu", "true"}});
  m.policies.push_back(p);
  expectTable(m, 80, Protocol::kTcp, rows(std::vector<std::string>(9, "XXXXXX...")));
  m.policies[0].node_selector = sel({{"gpu", "false"}});
  expectTable(m, 80, Protocol::kTcp, kAll);
}

TEST(Explain, RelabelledNamespaceChangesMembersNotRules) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "from-ns2", sel({{"pod", "a"}}));
  p.ingress.push_back({{nsPeer(sel({{"ns2", "updated"}}))}, {}});
  m.policies.push_back(p);
  expectTable(m, 80, Protocol::kTcp, rows(std::vector<std::string>(9, ".XXXXXXXX")));
  auto before = compile(m, {conf::Family::kV4, "n1"});
  m.namespaces[1].labels["ns2"] = "updated";  // y
  auto after = compile(m, {conf::Family::kV4, "n1"});
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_EQ(renderIptables(*before), renderIptables(*after));
  EXPECT_NE(renderIpsets(*before), renderIpsets(*after));
  std::vector<std::string> want(9, ".XXXXXXXX");
  want[3] = want[4] = want[5] = "XXXXXXXXX";
  expectTable(m, 80, Protocol::kTcp, rows(want));
}

TEST(Explain, StackedPoliciesAreAdditive) {
  Model m = e2eCluster();
  Policy p1 = testing::policy("x", "allow-80", sel({{"pod", "a"}}));
  p1.ingress.push_back({{}, {tcp(80)}});
  Policy p2 = testing::policy("x", "allow-81-from-y", sel({}, {{"pod", SelectorOp::kExists, {}}}));
  p2.ingress.push_back({{nsPeer(sel({{"ns", "y"}}))}, {tcp(81)}});
  m.policies = {p1, p2};
  std::vector<std::string> want(9, "...XXXXXX");
  want[3] = want[4] = want[5] = "XXXXXXXXX";
  expectTable(m, 81, Protocol::kTcp, rows(want));
  want.assign(9, "X..XXXXXX");
  expectTable(m, 80, Protocol::kTcp, rows(want));
}

TEST(Explain, ProtocolOnlyPortAllowsEveryPortOfIt) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "udp-only", sel({{"pod", "a"}}));
  p.ingress.push_back({{}, {PortSpec{Protocol::kUdp, std::nullopt, "", std::nullopt}}});
  m.policies.push_back(p);
  expectTable(m, 81, Protocol::kUdp, kAll);
  expectTable(m, 80, Protocol::kTcp, rows(std::vector<std::string>(9, ".XXXXXXXX")));
  expectTable(m, 80, Protocol::kSctp, rows(std::vector<std::string>(9, ".XXXXXXXX")));
}

TEST(Explain, IngressAndEgressTogether) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "both", sel({{"pod", "a"}}));
  p.ingress.push_back({{podPeer(sel({{"pod", "b"}}))}, {}});
  p.egress.push_back({{nsPeer(sel({{"ns", "z"}}))}, {tcp(80)}});
  m.policies.push_back(p);
  std::vector<std::string> want(9, ".XXXXXXXX");
  want[0] = "......XXX";
  want[1] = "XXXXXXXXX";
  expectTable(m, 80, Protocol::kTcp, rows(want));
  want[0] = ".........";
  expectTable(m, 81, Protocol::kTcp, rows(want));
}

TEST(Explain, IpBlockMatchesOnlyTheConnectionsFamily) {
  Model m = e2eCluster();
  m.pods[3].ips.push_back(testing::ip("fd00::4"));  // y/a is dual-stack
  m.pods[0].ips.push_back(testing::ip("fd00::1"));  // x/a too
  Policy p = testing::policy("x", "v6-only", sel({{"pod", "a"}}));
  p.ingress.push_back({{blockPeer("fd00::/64")}, {}});
  m.policies.push_back(p);
  auto v4 = explain(m, "y", "a", "x", "a", 80, Protocol::kTcp, conf::Family::kV4);
  auto v6 = explain(m, "y", "a", "x", "a", 80, Protocol::kTcp, conf::Family::kV6);
  ASSERT_TRUE(v4.ok() && v6.ok());
  EXPECT_FALSE(v4->allowed);
  EXPECT_TRUE(v6->allowed);
  // The compiled rulesets say the same.
  for (auto family : {conf::Family::kV4, conf::Family::kV6}) {
    auto r = compile(m, {family, "n1"});
    ASSERT_TRUE(r.ok());
    const bool v6_family = family == conf::Family::kV6;
    testing::Packet packet{m.pods[3].ips[v6_family ? 1 : 0], m.pods[0].ips[v6_family ? 1 : 0],
                           Protocol::kTcp, 80};
    EXPECT_EQ(testing::RulesetSimulator(*r).run(packet) != testing::Outcome::kDrop, v6_family);
  }
}

TEST(Explain, UnknownPodIsNotFound) {
  Model m = e2eCluster();
  EXPECT_EQ(explain(m, "x", "nope", "x", "a", 80, Protocol::kTcp).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace quasar::netpolicy
