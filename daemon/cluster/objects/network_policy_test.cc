#include "daemon/cluster/objects/network_policy.h"

#include <gtest/gtest.h>

#include "daemon/cluster/objects/test_util.h"

namespace quasar::objects {
namespace {

using nlohmann::json;
using testing::expectRefused;

TEST(NetworkPolicy, ReadsTheFullSpec) {
  auto p = parseNetworkPolicy(json::parse(R"({"apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy", "metadata": {"name": "db", "namespace": "shop"},
    "spec": {"podSelector": {"matchLabels": {"app": "db"}, "matchExpressions": [
        {"key": "tier", "operator": "NotIn", "values": ["test"]}]},
      "ingress": [
        {"from": [{"podSelector": {"matchLabels": {"app": "web"}},
                   "namespaceSelector": {"matchExpressions": [{"key": "team",
                     "operator": "Exists"}]}},
                  {"ipBlock": {"cidr": "172.16.0.0/16", "except": ["172.16.1.0/24"]}}],
         "ports": [{"protocol": "TCP", "port": 5432}, {"port": "metrics"},
                   {"protocol": "UDP", "port": 30000, "endPort": 30100}]},
        {}],
      "egress": [{"to": [{"namespaceSelector": {}}]}]}})"));
  ASSERT_TRUE(p.ok()) << p.status();
  const NetworkPolicySpec& s = p->spec;
  EXPECT_EQ(s.pod_selector.match_labels.at("app"), "db");
  ASSERT_EQ(s.pod_selector.match_expressions.size(), 1u);
  EXPECT_EQ(s.pod_selector.match_expressions[0].op, LabelSelectorRequirement::Operator::kNotIn);
  // Defaulted: Ingress, and Egress because there are egress rules.
  EXPECT_EQ(s.policy_types, (std::vector<PolicyType>{PolicyType::kIngress, PolicyType::kEgress}));
  ASSERT_EQ(s.ingress.size(), 2u);
  const NetworkPolicyRule& r = s.ingress[0];
  ASSERT_EQ(r.peers.size(), 2u);
  ASSERT_TRUE(r.peers[0].pod_selector && r.peers[0].namespace_selector);
  EXPECT_FALSE(r.peers[0].ip_block.has_value());
  ASSERT_TRUE(r.peers[1].ip_block.has_value());
  EXPECT_EQ(r.peers[1].ip_block->cidr.toString(), "172.16.0.0/16");
  EXPECT_EQ(r.peers[1].ip_block->except.at(0).toString(), "172.16.1.0/24");
  ASSERT_EQ(r.ports.size(), 3u);
  EXPECT_EQ(r.ports[0].port, 5432);
  EXPECT_EQ(r.ports[1].port_name, "metrics");
  EXPECT_EQ(r.ports[1].protocol, Protocol::kTcp);
  EXPECT_EQ(r.ports[2].end_port, 30100);
  // An empty rule: every source, every port.
  EXPECT_TRUE(s.ingress[1].peers.empty() && s.ingress[1].ports.empty());
  ASSERT_EQ(s.egress.size(), 1u);
  EXPECT_TRUE(s.egress[0].peers[0].namespace_selector->empty());
  EXPECT_FALSE(s.egress[0].peers[0].pod_selector.has_value());
}

TEST(NetworkPolicy, PolicyTypesAsGivenOrDefaulted) {
  auto deny_egress = parseNetworkPolicy(json::parse(R"({"apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy", "metadata": {"name": "p"},
    "spec": {"podSelector": {}, "policyTypes": ["Egress"]}})"));
  ASSERT_TRUE(deny_egress.ok()) << deny_egress.status();
  EXPECT_TRUE(deny_egress->spec.isolates(PolicyType::kEgress));
  EXPECT_FALSE(deny_egress->spec.isolates(PolicyType::kIngress));
  EXPECT_TRUE(deny_egress->spec.egress.empty());
  auto ingress_only = parseNetworkPolicy(json::parse(R"({"apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy", "metadata": {"name": "p"}, "spec": {"podSelector": {},
    "egress": []}})"));
  ASSERT_TRUE(ingress_only.ok()) << ingress_only.status();
  EXPECT_EQ(ingress_only->spec.policy_types, std::vector<PolicyType>{PolicyType::kIngress});
}

TEST(QuasarNetworkPolicy, NodeSelectorsInSpecAndPeers) {
  auto p = parseQuasarNetworkPolicy(json::parse(R"({"apiVersion": "quasar.io/v1",
    "kind": "NetworkPolicy", "metadata": {"name": "gpu-only", "namespace": "ml"},
    "spec": {"podSelector": {}, "nodeSelector": {"matchLabels":
      {"nvidia.com/gpu.present": "true"}},
      "ingress": [{"from": [{"nodeSelector": {"matchExpressions": [
        {"key": "nvidia.com/gpu.present", "operator": "Exists"}]}, "podSelector": {}}]}]}})"));
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->spec.node_selector.has_value());
  EXPECT_TRUE(p->spec.node_selector->matches({{"nvidia.com/gpu.present", "true"}}));
  ASSERT_TRUE(p->spec.ingress[0].peers[0].node_selector.has_value());
  const auto parse = [](const json& j) { return parseQuasarNetworkPolicy(j); };
  expectRefused(parse, R"({"apiVersion": "quasar.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "p"}, "spec": {"podSelector": {}, "ingress": [{"from":
    [{"nodeSelector": {}, "ipBlock": {"cidr": "10.0.0.0/8"}}]}]}})",
                "NetworkPolicy.quasar.io default/p: spec.ingress[0].from[0]: ipBlock cannot be "
                "combined with a selector");
  expectRefused(parse, R"({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "p"}, "spec": {"podSelector": {}}})",
                "apiVersion: must be quasar.io/v1");
}

TEST(NetworkPolicy, RefusalsNameTheField) {
  const auto parse = [](const json& j) { return parseNetworkPolicy(j); };
  const auto policy = [](const std::string& spec) {
    return R"({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
      "metadata": {"name": "p", "namespace": "shop"}, "spec": )" +
           spec + "}";
  };
  const std::pair<std::string, std::string> cases[] = {
      {R"({})", "NetworkPolicy shop/p: spec.podSelector: is required"},
      {R"({"podSelector": {"matchLabels": {"a": 1}}})", "spec.podSelector.matchLabels.a"},
      {R"({"podSelector": {"matchLabels": {"a b": "c"}}})",
       "spec.podSelector.matchLabels: \"a b\" is not a valid label key"},
      {R"({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Exists",
         "values": ["x"]}]}})",
       "spec.podSelector.matchExpressions[0].values: must be empty for Exists"},
      {R"({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Has"}]}})",
       "spec.podSelector.matchExpressions[0].operator: must be In, NotIn"},
      {R"({"podSelector": {"matchExpressions": [{"operator": "Exists"}]}})",
       "spec.podSelector.matchExpressions[0].key: is required"},
      {R"({"podSelector": {}, "policyTypes": ["Ingress", "Ingress"]})",
       "spec.policyTypes: lists Ingress twice"},
      {R"({"podSelector": {}, "policyTypes": ["Both"]})", "spec.policyTypes: entries must be"},
      {R"({"podSelector": {}, "ingress": [{"from": [{}]}]})",
       "spec.ingress[0].from[0]: must name podSelector, namespaceSelector or ipBlock"},
      {R"({"podSelector": {}, "ingress": [{"from": [{"nodeSelector": {}}]}]})",
       "spec.ingress[0].from[0].nodeSelector: is allowed only in quasar.io/v1"},
      {R"({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8",
         "except": ["10.0.0.0/8"]}}]}]})",
       "spec.egress[0].to[0].ipBlock.except[0]: must be strictly inside 10.0.0.0/8"},
      {R"({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8",
         "except": ["172.16.0.0/24"]}}]}]})",
       "spec.egress[0].to[0].ipBlock.except[0]"},
      {R"({"podSelector": {}, "egress": [{"to": [{"ipBlock": {}}]}]})",
       "spec.egress[0].to[0].ipBlock.cidr: is required"},
      {R"({"podSelector": {}, "ingress": [{"ports": [{"port": 0}]}]})",
       "spec.ingress[0].ports[0].port: must be a port number in [1, 65535] or a port name"},
      {R"({"podSelector": {}, "ingress": [{"ports": [{"port": "Not_A_Name"}]}]})",
       "spec.ingress[0].ports[0].port"},
      {R"({"podSelector": {}, "ingress": [{"ports": [{"port": true}]}]})",
       "spec.ingress[0].ports[0].port"},
      {R"({"podSelector": {}, "ingress": [{"ports": [{"port": "http", "endPort": 90}]}]})",
       "spec.ingress[0].ports[0].endPort: needs a numeric port"},
      {R"({"podSelector": {}, "ingress": [{"ports": [{"port": 100, "endPort": 90}]}]})",
       "spec.ingress[0].ports[0].endPort: must be in [100, 65535]"},
      {R"({"podSelector": {}, "ingress": [{"ports": [{"protocol": "tcp"}]}]})",
       "spec.ingress[0].ports[0].protocol: must be TCP, UDP or SCTP"},
      {R"({"podSelector": {}, "ingress": {}})", "spec.ingress: must be a list"},
      {R"({"podSelector": {}, "ingress": [{"from": {}}]})", "spec.ingress[0].from: must be a list"},
      {R"({"podSelector": {}, "ingress": [7]})", "spec.ingress[0]: must be a mapping"},
  };
  for (const auto& [spec, fragment] : cases) expectRefused(parse, policy(spec), fragment);
}

}  // namespace
}  // namespace quasar::objects
