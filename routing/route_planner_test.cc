#include "routing/route_planner.h"

#include <gtest/gtest.h>

namespace quasar::routing {
namespace {

conf::IpPrefix P(const char* s) { return *conf::IpPrefix::parse(s); }
conf::IpAddress A(const char* s) { return *conf::IpAddress::parse(s); }

LocalNode local() {
  return {"n1", "up0", P("10.99.0.0/24"), {P("10.244.0.0/26")}, A("10.99.0.1"), 1500};
}
std::vector<PeerNode> peers() {
  return {{"n1", A("10.99.0.1"), {P("10.244.0.0/26")}, true},
          {"n2", A("10.99.0.2"), {P("10.244.0.64/26"), P("10.244.1.0/26")}, true},
          {"n3", A("10.98.0.3"), {P("10.244.0.128/26")}, true},
          {"n4", A("10.99.0.4"), {P("10.244.0.192/26")}, false}};
}

TEST(RoutePlanner, CrossSubnetIsDirectOnTheSubnetAndIpipAcross) {
  auto routes = planRoutes(local(), peers(), conf::RoutingMode::kIpipCrossSubnet);
  ASSERT_EQ(routes.size(), 4u);  // own blackhole, n2's two blocks, n3's; n4 is not ready
  EXPECT_EQ(routes[0].path, Path::kBlackhole);
  EXPECT_EQ(routes[0].dst.toString(), "10.244.0.0/26");
  EXPECT_EQ(routes[1].path, Path::kDirect);
  EXPECT_EQ(routes[1].via->toString(), "10.99.0.2");
  EXPECT_EQ(routes[1].device, "up0");
  EXPECT_FALSE(routes[1].onlink);
  EXPECT_EQ(routes[2].path, Path::kIpip);
  EXPECT_EQ(routes[2].node, "n3");
  EXPECT_EQ(routes[2].device, kIpipDevice);
  EXPECT_TRUE(routes[2].onlink);
  EXPECT_EQ(routes[3].dst.toString(), "10.244.1.0/26");
}

TEST(RoutePlanner, AlwaysModesEncapsulateEvenOnTheSubnet) {
  for (auto mode : {conf::RoutingMode::kIpipAlways, conf::RoutingMode::kVxlanAlways}) {
    for (const auto& r : planRoutes(local(), peers(), mode)) {
      if (r.path == Path::kBlackhole) continue;
      EXPECT_EQ(r.path, mode == conf::RoutingMode::kIpipAlways ? Path::kIpip : Path::kVxlan);
    }
  }
  auto vx = planRoutes(local(), peers(), conf::RoutingMode::kVxlanCrossSubnet);
  EXPECT_EQ(vx[1].path, Path::kDirect);
  EXPECT_EQ(vx[2].path, Path::kVxlan);
  EXPECT_EQ(vx[2].device, kVxlanDevice);
  EXPECT_EQ(vx[2].via->toString(), "10.244.0.128") << "via the peer's VTEP, not its node address";
}

TEST(RoutePlanner, HostGwRefusesNodesItCannotReachAndSaysWhy) {
  auto routes = planRoutes(local(), peers(), conf::RoutingMode::kHostGw);
  ASSERT_EQ(routes[2].path, Path::kUnreachable);
  EXPECT_NE(routes[2].reason.find("host-gw cannot reach 10.98.0.3"), std::string::npos);
}

TEST(RoutePlanner, OneRoutePerRemoteBlockAtScale) {
  std::vector<PeerNode> many;
  for (int i = 0; i < 1000; ++i) {
    many.push_back(
        {"m" + std::to_string(i),
         conf::IpAddress::fromInt(conf::Family::kV4, (10u << 24) | (99u << 16) | i),
         {conf::IpPrefix(
             conf::IpAddress::fromInt(conf::Family::kV4, (10u << 24) | (uint32_t(i) << 6)), 26)},
         true});
  }
  LocalNode l{"n1", "up0", P("10.99.0.0/16"), {}, std::nullopt, 1500};
  EXPECT_EQ(planRoutes(l, many, conf::RoutingMode::kIpipCrossSubnet).size(), 1000u);
}

}  // namespace
}  // namespace quasar::routing
