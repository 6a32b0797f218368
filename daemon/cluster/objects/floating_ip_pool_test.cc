#include "daemon/cluster/objects/floating_ip_pool.h"

#include <gtest/gtest.h>

#include "daemon/cluster/objects/test_util.h"

namespace quasar::objects {
namespace {

using nlohmann::json;

// The example of issue 13, field for field.
constexpr char kPool[] = R"({"apiVersion": "quasar.io/v1", "kind": "FloatingIPPool",
  "metadata": {"name": "gpu-underlay"},
  "spec": {"subnet": "10.20.0.0/24", "gateway": "10.20.0.1",
    "ranges": ["10.20.0.100-10.20.0.199"], "exclude": ["10.20.0.150"], "vlan": 0,
    "nodeSubnets": ["10.20.0.0/24"], "nodeSelector": {"nvidia.com/gpu.present": "true"},
    "maxAllocated": 80, "mode": "veth"}})";

conf::IpAddress ip(const char* text) { return *conf::IpAddress::parse(text); }

TEST(FloatingIPPool, ReadsTheIssueExample) {
  auto p = parseFloatingIPPool(json::parse(kPool));
  ASSERT_TRUE(p.ok()) << p.status();
  const FloatingIPPoolSpec& s = p->spec;
  EXPECT_EQ(p->metadata.namespace_, "");
  EXPECT_EQ(s.subnet.toString(), "10.20.0.0/24");
  EXPECT_EQ(s.gateway, ip("10.20.0.1"));
  ASSERT_EQ(s.ranges.size(), 1u);
  EXPECT_EQ(s.ranges[0], (IpRange{ip("10.20.0.100"), ip("10.20.0.199")}));
  EXPECT_TRUE(s.ranges[0].contains(ip("10.20.0.150")));
  EXPECT_EQ(s.exclude, (std::vector<IpRange>{{ip("10.20.0.150"), ip("10.20.0.150")}}));
  EXPECT_EQ(s.vlan, 0);
  EXPECT_EQ(s.node_subnets.at(0).toString(), "10.20.0.0/24");
  EXPECT_TRUE(s.node_selector.matches({{"nvidia.com/gpu.present", "true"}}));
  EXPECT_FALSE(s.node_selector.matches({}));
  EXPECT_EQ(s.max_allocated, 80);
  EXPECT_EQ(s.mode, FloatingIPMode::kVeth);
}

TEST(FloatingIPPool, DefaultsForTheOptionalFields) {
  auto p = parseFloatingIPPool(json::parse(R"({"apiVersion": "quasar.io/v1",
    "kind": "FloatingIPPool", "metadata": {"name": "u"}, "spec": {"subnet": "10.20.0.0/24",
    "ranges": ["10.20.0.10", "10.20.0.20-10.20.0.29"], "mode": "macvlan", "vlan": 100}})"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->spec.gateway.has_value());
  EXPECT_EQ(p->spec.ranges.size(), 2u);
  EXPECT_FALSE(p->spec.max_allocated.has_value());
  EXPECT_TRUE(p->spec.node_selector.empty());
  EXPECT_EQ(p->spec.mode, FloatingIPMode::kMacvlan);
  EXPECT_EQ(p->spec.vlan, 100);
}

TEST(FloatingIPPool, RefusalsNameTheField) {
  const auto parse = [](const json& j) { return parseFloatingIPPool(j); };
  const std::pair<const char*, json> cases[] = {
      {"FloatingIPPool gpu-underlay: spec.subnet: must be a CIDR", {{"subnet", "10.20.0.0"}}},
      {"spec.subnet: must be a network address (10.20.0.0/24)", {{"subnet", "10.20.0.7/24"}}},
      {"spec.gateway: must be an address inside", {{"gateway", "10.21.0.1"}}},
      {"spec.ranges[0]: \"10.20.0.100-10.20.1.5\" must be inside 10.20.0.0/24",
       {{"ranges", {"10.20.0.100-10.20.1.5"}}}},
      {"spec.ranges[1]: \"10.20.0.9-10.20.0.5\" ends before it starts",
       {{"ranges", {"10.20.0.1", "10.20.0.9-10.20.0.5"}}}},
      {"spec.ranges[0]: \"x\" must be an address or a range", {{"ranges", {"x"}}}},
      {"spec.ranges: must list at least one range", {{"ranges", json::array()}}},
      {"spec.ranges: must be a list", {{"ranges", "10.20.0.100-10.20.0.199"}}},
      {"spec.exclude[0]: \"10.30.0.1\" must be inside", {{"exclude", {"10.30.0.1"}}}},
      {"spec.vlan: must be in [0, 4094]", {{"vlan", 4095}}},
      {"spec.vlan: must be an integer", {{"vlan", "0"}}},
      {"spec.nodeSubnets[0]: must be a CIDR", {{"nodeSubnets", {"10.20.0.0/33"}}}},
      {"spec.nodeSelector: \"a b\" is not a valid label key", {{"nodeSelector", {{"a b", "1"}}}}},
      {"spec.nodeSelector.gpu: must be a string", {{"nodeSelector", {{"gpu", true}}}}},
      {"spec.maxAllocated: must be at least 1", {{"maxAllocated", 0}}},
      {"spec.mode: must be veth or macvlan", {{"mode", "ipvlan"}}},
  };
  for (const auto& [fragment, change] : cases) {
    json j = json::parse(kPool);
    j["spec"].update(change);
    testing::expectRefused(parse, j.dump(), fragment);
  }
  json no_spec = json::parse(kPool);
  no_spec.erase("spec");
  testing::expectRefused(parse, no_spec.dump(), "FloatingIPPool gpu-underlay: spec: is required");
  json namespaced = json::parse(kPool);
  namespaced["metadata"]["namespace"] = "ml";
  testing::expectRefused(parse, namespaced.dump(), "FloatingIPPool is not namespaced");
}

}  // namespace
}  // namespace quasar::objects
