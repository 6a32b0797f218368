// reconcileRoutes against the real kernel, in a namespace of the test's own (unshared; ctest
// runs the test in one more): the main table's protocol-114 routes become the plan, and nothing
// else changes.

#include <linux/rtnetlink.h>

#include <algorithm>

#include "gtest/gtest.h"
#include "routing/netns.h"
#include "routing/route_reconciler.h"
#include "routing/underlay_testing.h"

namespace quasar::routing {
namespace {

using testing::socketIn;
using testing::unsharedNamespace;

conf::IpAddress ip(const char* text) { return *conf::IpAddress::parse(text); }
conf::IpPrefix prefix(const char* text) { return *conf::IpPrefix::parse(text); }

absl::StatusOr<ReconcileResult> reconcileIn(const Fd& ns, const std::vector<PlannedRoute>& plan) {
  absl::StatusOr<ReconcileResult> result = absl::UnknownError("not run");
  auto s = runInNetns(ns, [&] {
    result = reconcileRoutes(plan);
    return result.status();
  });
  if (!s.ok()) return s;
  return result;
}

std::optional<RouteInfo> mainRoute(NetlinkSocket& sock, const conf::IpPrefix& dst) {
  auto routes = Rtnl(sock).listRoutes(conf::Family::kV4);
  EXPECT_TRUE(routes.ok()) << routes.status();
  for (const auto& r : routes.value_or(std::vector<RouteInfo>{})) {
    if (r.table == RT_TABLE_MAIN && r.dst == dst) return r;
  }
  return std::nullopt;
}

TEST(ReconcileRoutes, MakesNodeRoutesThePlanAndLeavesOthersAlone) {
  Fd node = unsharedNamespace();
  Fd peer = unsharedNamespace();
  ASSERT_TRUE(node.valid() && peer.valid());
  auto sock = socketIn(node);
  ASSERT_TRUE(sock.ok()) << sock.status();
  Rtnl rtnl(*sock);
  const conf::Mac mac{0x02, 0, 0, 0, 0, 1};
  ASSERT_TRUE(rtnl.createVeth({"up0", mac, 1500, "w0", mac, peer.get()}).ok());
  const int up0 = *sock->linkIndex("up0");
  ASSERT_TRUE(rtnl.addAddress(up0, prefix("10.99.0.1/24")).ok());
  // A pod's route (the plugin's, protocol 113) on the same link: never the reconciler's.
  Route pod{.dst = prefix("10.244.0.5/32"),
            .gateway = std::nullopt,
            .ifindex = up0,
            .scope = RT_SCOPE_LINK};
  ASSERT_TRUE(rtnl.addRoute(pod).ok());

  std::vector<PlannedRoute> plan = {
      {prefix("10.244.0.0/26"), Path::kBlackhole, std::nullopt, "", false, "n1", ""},
      {prefix("10.244.0.64/26"), Path::kDirect, ip("10.99.0.2"), "up0", false, "n2", ""},
      {prefix("10.244.0.128/26"), Path::kUnreachable, std::nullopt, "", false, "n3", ""},
      {prefix("10.244.0.192/26"), Path::kIpip, ip("10.98.0.4"), "tunl0", true, "n4", ""},
  };
  auto first = reconcileIn(node, plan);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->added, 2);
  EXPECT_EQ(first->skipped, 2);  // unreachable, and no tunl0 here
  auto direct = mainRoute(*sock, prefix("10.244.0.64/26"));
  ASSERT_TRUE(direct);
  EXPECT_EQ(direct->gateway, ip("10.99.0.2"));
  EXPECT_EQ(direct->protocol, kNodeRouteProtocol);

  auto again = reconcileIn(node, plan);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->added + again->removed, 0);
  EXPECT_EQ(again->unchanged, 2);

  // Changed behind its back: replaced. A route to a peer that left: removed.
  RouteInfo have = *direct;
  ASSERT_TRUE(rtnl.deleteRoute(have).ok());
  Route changed{.dst = have.dst, .gateway = ip("10.99.0.3"), .ifindex = up0};
  changed.protocol = kNodeRouteProtocol;
  ASSERT_TRUE(rtnl.addRoute(changed).ok());
  plan.erase(plan.begin());  // this node's block is gone
  auto third = reconcileIn(node, plan);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->added, 1);
  EXPECT_EQ(third->removed, 1);
  EXPECT_EQ(mainRoute(*sock, prefix("10.244.0.64/26"))->gateway, ip("10.99.0.2"));
  EXPECT_FALSE(mainRoute(*sock, prefix("10.244.0.0/26")));
  auto kept = mainRoute(*sock, pod.dst);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->protocol, kRouteProtocol);
}

}  // namespace
}  // namespace quasar::routing
