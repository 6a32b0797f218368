// buildPolicyModel: the object view and this node's pods to the compiler's model.

#include "daemon/agents/policy_model.h"

#include <gtest/gtest.h>

#include "daemon/agents/driven_source.h"
#include "daemon/cluster/object_view.h"

namespace quasar::daemon {
namespace {

using nlohmann::json;
using objects::Kind;

using Source = testing::DrivenSource;

json pod(const std::string& ns, const std::string& name, json labels, const std::string& node,
         const std::string& ip) {
  json p = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", name}, {"namespace", ns}, {"labels", std::move(labels)}}},
      {"spec",
       {{"nodeName", node},
        {"containers",
         {{{"name", "c"},
           {"ports", {{{"name", "http"}, {"containerPort", 8080}, {"protocol", "TCP"}}}}}}}}}};
  if (!ip.empty()) p["status"] = {{"phase", "Running"}, {"podIPs", {{{"ip", ip}}}}};
  return p;
}

class PolicyModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(view_.start().ok());
    for (Kind k : source_.kinds()) source_.sink_->replace(k, {});
  }
  void put(Kind kind, std::vector<json> objects) {
    source_.sink_->replace(kind, std::move(objects));
  }
  const netpolicy::Pod* find(const netpolicy::Model& m, const std::string& name) {
    for (const auto& p : m.pods)
      if (p.name == name) return &p;
    return nullptr;
  }
  Source source_;
  ObjectView view_{source_};
  LocalNodeFacts node_{"n1", {*conf::IpAddress::parse("10.250.0.2")}};
};

TEST_F(PolicyModelTest, PodsNamespacesNodesAndBothPolicyKinds) {
  put(Kind::kPod, {pod("x", "a", {{"pod", "a"}}, "n1", "10.244.1.2"),
                   pod("x", "b", {{"pod", "b"}}, "n2", "10.244.2.2"),
                   pod("y", "pending", json::object(), "n2", "")});
  put(Kind::kNamespace, {{{"apiVersion", "v1"},
                          {"kind", "Namespace"},
                          {"metadata", {{"name", "x"}, {"labels", {{"team", "ml"}}}}}}});
  put(Kind::kNode,
      {{{"apiVersion", "v1"},
        {"kind", "Node"},
        {"metadata", {{"name", "n2"}, {"labels", {{"gpu", "true"}}}}},
        {"status", {{"addresses", {{{"type", "InternalIP"}, {"address", "10.250.0.3"}}}}}}}});
  json policy = {{"apiVersion", "networking.k8s.io/v1"},
                 {"kind", "NetworkPolicy"},
                 {"metadata", {{"name", "deny"}, {"namespace", "x"}}},
                 {"spec", {{"podSelector", json::object()}}}};
  put(Kind::kNetworkPolicy, {policy});
  policy["apiVersion"] = "quasar.io/v1";
  put(Kind::kQuasarNetworkPolicy, {policy});

  netpolicy::Model m = buildPolicyModel(view_, {}, node_);
  ASSERT_EQ(m.pods.size(), 3u);
  const auto* a = find(m, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->labels.at("pod"), "a");
  EXPECT_EQ(a->node, "n1");
  ASSERT_EQ(a->ips.size(), 1u);
  EXPECT_EQ(a->ips[0].toString(), "10.244.1.2");
  ASSERT_EQ(a->ports.size(), 1u);
  EXPECT_EQ(a->ports[0].name, "http");
  EXPECT_EQ(a->ports[0].port, 8080);
  EXPECT_TRUE(find(m, "pending")->ips.empty());
  // Namespaces: the view's with the API server's name label, and y only known from its pod.
  ASSERT_EQ(m.namespaces.size(), 2u);
  for (const auto& ns : m.namespaces) {
    EXPECT_EQ(ns.labels.at("kubernetes.io/metadata.name"), ns.name);
    if (ns.name == "x") {
      EXPECT_EQ(ns.labels.at("team"), "ml");
    }
  }
  // Nodes: n2 from the view, the local node from the facts.
  ASSERT_EQ(m.nodes.size(), 2u);
  for (const auto& n : m.nodes) {
    if (n.name == "n2") {
      EXPECT_EQ(n.labels.at("gpu"), "true");
      EXPECT_EQ(n.ips[0].toString(), "10.250.0.3");
    } else {
      EXPECT_EQ(n.name, "n1");
      EXPECT_EQ(n.ips[0].toString(), "10.250.0.2");
    }
  }
  ASSERT_EQ(m.policies.size(), 2u);
  EXPECT_NE(m.policies[0].kind, m.policies[1].kind);
}

// The ADD knows the address before the view: the local record wins, and a pod the view has not
// got yet comes from the object its ADD found.
TEST_F(PolicyModelTest, LocalPodsOverTheView) {
  put(Kind::kPod, {pod("x", "a", {{"pod", "a"}}, "n1", "10.244.1.99")});
  std::map<std::string, LocalPod> local;
  local["c1/eth0"] = {"x", "a", {*conf::IpAddress::parse("10.244.1.2")}, nullptr};
  auto parsed = objects::parsePod(pod("x", "new", {{"pod", "new"}}, "n1", ""));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  local["c2/eth0"] = {
      "x", "new", {*conf::IpAddress::parse("10.244.1.3")}, std::make_shared<objects::Pod>(*parsed)};
  local["c3/eth0"] = {"z", "unknown", {*conf::IpAddress::parse("10.244.1.4")}, nullptr};
  netpolicy::Model m = buildPolicyModel(view_, local, node_);
  ASSERT_EQ(m.pods.size(), 3u);
  EXPECT_EQ(find(m, "a")->ips[0].toString(), "10.244.1.2");
  const auto* fresh = find(m, "new");
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(fresh->labels.at("pod"), "new");
  EXPECT_EQ(fresh->node, "n1");
  EXPECT_EQ(fresh->ports.size(), 1u);
  const auto* unknown = find(m, "unknown");
  ASSERT_NE(unknown, nullptr);
  EXPECT_TRUE(unknown->labels.empty());
  EXPECT_EQ(unknown->namespace_name, "z");
  bool have_z = false;
  for (const auto& ns : m.namespaces) have_z = have_z || ns.name == "z";
  EXPECT_TRUE(have_z);
}

// Pods without a network of their own are no policy's business.
TEST_F(PolicyModelTest, HostNetworkAndFinishedPodsLeftOut) {
  json host = pod("x", "host", json::object(), "n1", "10.250.0.2");
  host["spec"]["hostNetwork"] = true;
  json done = pod("x", "done", json::object(), "n1", "10.244.1.5");
  done["status"]["phase"] = "Succeeded";
  put(Kind::kPod, {host, done, pod("x", "a", json::object(), "n1", "10.244.1.2")});
  netpolicy::Model m = buildPolicyModel(view_, {}, node_);
  ASSERT_EQ(m.pods.size(), 1u);
  EXPECT_EQ(m.pods[0].name, "a");
}

}  // namespace
}  // namespace quasar::daemon
