#include "daemon/cluster/floating_pools.h"

#include <gtest/gtest.h>

namespace quasar::daemon {
namespace {

TEST(ToFloatingPool, CarriesEveryFieldOfTheIssuesExample) {
  auto j = nlohmann::json::parse(R"({
    "apiVersion": "quasar.io/v1", "kind": "FloatingIPPool",
    "metadata": {"name": "gpu-underlay"},
    "spec": {"subnet": "10.20.0.0/24", "gateway": "10.20.0.1",
             "ranges": ["10.20.0.100-10.20.0.199"], "exclude": ["10.20.0.150"], "vlan": 7,
             "nodeSubnets": ["10.20.0.0/24"], "nodeSelector": {"nvidia.com/gpu.present": "true"},
             "maxAllocated": 80, "mode": "macvlan"}})");
  auto object = objects::parseFloatingIPPool(j);
  ASSERT_TRUE(object.ok()) << object.status();
  const ipam::floating::Pool p = toFloatingPool(*object);
  EXPECT_EQ(p.name, "gpu-underlay");
  EXPECT_EQ(p.subnet.toString(), "10.20.0.0/24");
  EXPECT_EQ(p.gateway->toString(), "10.20.0.1");
  ASSERT_EQ(p.ranges.size(), 1u);
  EXPECT_EQ(p.ranges[0].last.toString(), "10.20.0.199");
  ASSERT_EQ(p.exclude.size(), 1u);
  EXPECT_EQ(p.exclude[0].first.toString(), "10.20.0.150");
  EXPECT_EQ(p.vlan, 7);
  ASSERT_EQ(p.node_subnets.size(), 1u);
  EXPECT_EQ(p.node_selector.at("nvidia.com/gpu.present"), "true");
  EXPECT_EQ(p.max_allocated, 80);
  EXPECT_EQ(p.mode, ipam::floating::Mode::kMacvlan);
  EXPECT_EQ(ipam::floating::Candidates(p).size(), 99u);  // 100 minus the excluded one
  EXPECT_TRUE(p.serves(
      {"n1", {*conf::IpAddress::parse("10.20.0.11")}, {{"nvidia.com/gpu.present", "true"}}}));
  EXPECT_FALSE(p.serves({"n2", {*conf::IpAddress::parse("10.20.0.12")}, {}}));
}

}  // namespace
}  // namespace quasar::daemon
