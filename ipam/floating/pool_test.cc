#include "ipam/floating/pool.h"

#include <gtest/gtest.h>

#include "ipam/floating/test_util.h"

namespace quasar::ipam::floating {
namespace {

using testing::ip;
using testing::prefix;

std::vector<std::string> all(const Candidates& c) {
  std::vector<std::string> out;
  for (auto a = c.next(std::nullopt); a; a = c.next(a)) out.push_back(a->toString());
  return out;
}

TEST(Pool, ServesEveryNodeWithoutSubnetsOrSelector) {
  Pool p = testing::pool("a", 0, 100, 110);
  EXPECT_TRUE(p.serves({"n1", {}, {}}));
}

TEST(Pool, ServesNodesWithAnAddressInANodeSubnet) {
  Pool p = testing::pool("a", 0, 100, 110);
  p.node_subnets = {prefix("10.20.0.0/24"), prefix("10.30.0.0/16")};
  EXPECT_TRUE(p.serves({"n1", {ip("172.16.0.1"), ip("10.30.5.5")}, {}}));
  EXPECT_FALSE(p.serves({"n2", {ip("172.16.0.2")}, {}}));
  EXPECT_FALSE(p.serves({"n3", {}, {}}));
}

TEST(Pool, ServesOnlyNodesCarryingEverySelectorLabel) {
  Pool p = testing::pool("gpu", 0, 100, 110);
  p.node_selector = {{"nvidia.com/gpu.present", "true"}, {"zone", "a"}};
  EXPECT_TRUE(
      p.serves({"n1", {}, {{"nvidia.com/gpu.present", "true"}, {"zone", "a"}, {"x", "y"}}}));
  EXPECT_FALSE(p.serves({"n2", {}, {{"nvidia.com/gpu.present", "true"}}}));
  EXPECT_FALSE(p.serves({"n3", {}, {{"nvidia.com/gpu.present", "false"}, {"zone", "a"}}}));
}

TEST(Pool, SubnetAndSelectorMustBothMatch) {
  Pool p = testing::pool("gpu", 0, 100, 110);
  p.node_subnets = {prefix("10.20.0.0/24")};
  p.node_selector = {{"gpu", "true"}};
  EXPECT_TRUE(p.serves({"n1", {ip("10.20.0.5")}, {{"gpu", "true"}}}));
  EXPECT_FALSE(p.serves({"n1", {ip("10.21.0.5")}, {{"gpu", "true"}}}));
  EXPECT_FALSE(p.serves({"n1", {ip("10.20.0.5")}, {}}));
}

TEST(Candidates, RangesMinusExcludeGatewayNetworkAndBroadcast) {
  Pool p;
  p.subnet = prefix("10.20.0.0/29");
  p.gateway = ip("10.20.0.1");
  p.ranges = {{ip("10.20.0.0"), ip("10.20.0.7")}};
  p.exclude = {{ip("10.20.0.4"), ip("10.20.0.4")}};
  Candidates c(p);
  EXPECT_EQ(all(c), (std::vector<std::string>{"10.20.0.2", "10.20.0.3", "10.20.0.5", "10.20.0.6"}));
  EXPECT_EQ(c.size(), 4u);
  EXPECT_TRUE(c.contains(ip("10.20.0.5")));
  EXPECT_FALSE(c.contains(ip("10.20.0.4")));
  EXPECT_FALSE(c.contains(ip("10.20.0.1")));
  EXPECT_FALSE(c.contains(ip("10.20.0.0")));
  EXPECT_FALSE(c.contains(ip("10.20.0.7")));
  EXPECT_FALSE(c.contains(ip("10.20.1.5")));
  EXPECT_FALSE(c.contains(ip("fd00::5")));
}

TEST(Candidates, OverlappingRangesMergeAndAreClippedToTheSubnet) {
  Pool p;
  p.subnet = prefix("10.20.0.0/24");
  p.ranges = {{ip("10.20.0.250"), ip("10.20.1.10")},
              {ip("10.20.0.10"), ip("10.20.0.12")},
              {ip("10.20.0.11"), ip("10.20.0.13")}};
  p.exclude = {{ip("10.20.0.5"), ip("10.20.0.11")}};
  Candidates c(p);
  EXPECT_EQ(all(c),
            (std::vector<std::string>{"10.20.0.12", "10.20.0.13", "10.20.0.250", "10.20.0.251",
                                      "10.20.0.252", "10.20.0.253", "10.20.0.254"}));
}

TEST(Candidates, APointToPointSubnetHasNoNetworkOrBroadcastToAvoid) {
  Pool p;
  p.subnet = prefix("10.20.0.0/31");
  p.ranges = {{ip("10.20.0.0"), ip("10.20.0.1")}};
  EXPECT_EQ(Candidates(p).size(), 2u);
}

TEST(Candidates, IPv6SkipsTheSubnetRouterAnycastAddress) {
  Pool p;
  p.subnet = prefix("fd00:20::/64");
  p.gateway = ip("fd00:20::1");
  p.ranges = {{ip("fd00:20::"), ip("fd00:20::4")}};
  EXPECT_EQ(all(Candidates(p)),
            (std::vector<std::string>{"fd00:20::2", "fd00:20::3", "fd00:20::4"}));
}

TEST(Candidates, AHugeRangeCostsNothingAndSaturates) {
  Pool p;
  p.subnet = prefix("fd00::/32");
  p.ranges = {{ip("fd00::"), ip("fd00:0:ffff:ffff:ffff:ffff:ffff:ffff")}};
  Candidates c(p);
  EXPECT_EQ(c.size(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(c.next(std::nullopt)->toString(), "fd00::1");
}

}  // namespace
}  // namespace quasar::ipam::floating
