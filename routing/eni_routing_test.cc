#include "routing/eni_routing.h"

#include <gtest/gtest.h>
#include <linux/rtnetlink.h>

#include "routing/rule_reconciler.h"

namespace quasar::routing {
namespace {

conf::IpPrefix P(const char* s) { return *conf::IpPrefix::parse(s); }
conf::IpAddress A(const char* s) { return *conf::IpAddress::parse(s); }

std::vector<EniSpec> enis() {
  return {{.mac = {0x0e, 0, 0, 0, 0, 1}, .device_index = 0, .primary = P("10.90.0.10/24")},
          {.mac = {0x0e, 0, 0, 0, 0, 2}, .device_index = 1, .primary = P("10.90.1.10/24")},
          {.mac = {0x0e, 0, 0, 0, 0, 3}, .device_index = 2, .primary = P("10.90.2.10/24")}};
}

std::vector<std::string> strings(const std::vector<Rule>& rules) {
  std::vector<std::string> out;
  for (const auto& r : rules) out.push_back(r.toString());
  return out;
}

TEST(EniRouting, TablesFollowTheDeviceIndexAndRulesSitInQuasarsRange) {
  EXPECT_EQ(eniTable(1), 10001u);
  EXPECT_EQ(eniTable(15), 10015u);
  // Past every table iproute2 names (255 is the last) and the kernel's reserved ones.
  EXPECT_GT(eniTable(0), 255u);
  // Clear of the kernel's (0, 32766, 32767) and the AWS VPC CNI's (512, 1536), "to" first.
  for (uint32_t p : {kToPodRulePriority, kFromEniRulePriority}) {
    EXPECT_GE(p, kRulePriorityFirst);
    EXPECT_LE(p, kRulePriorityLast);
  }
  EXPECT_LT(kToPodRulePriority, kFromEniRulePriority);
  for (uint32_t other : {0u, 512u, 1536u, 32766u, 32767u}) {
    EXPECT_TRUE(other < kRulePriorityFirst || other > kRulePriorityLast) << other;
  }
  EXPECT_LT(kRulePriorityLast, 32766u);  // ahead of the main table's rule
}

TEST(EniRouting, PodsOfSecondaryEnisGetBothRulesPrimaryEniPodsOnlyTheToRule) {
  auto rules = planEniRules(enis(), {{A("10.90.2.22"), 2},
                                     {A("10.90.1.21"), 1},
                                     {A("10.90.0.20"), 0},
                                     {A("10.90.1.21"), 1}});  // listed twice: planned once
  EXPECT_EQ(strings(rules), (std::vector<std::string>{
                                "pref 20100 from all to 10.90.0.20/32 lookup 254 proto 114",
                                "pref 20100 from all to 10.90.1.21/32 lookup 254 proto 114",
                                "pref 20100 from all to 10.90.2.22/32 lookup 254 proto 114",
                                "pref 20200 from 10.90.1.10/32 lookup 10001 proto 114",
                                "pref 20200 from 10.90.1.21/32 lookup 10001 proto 114",
                                "pref 20200 from 10.90.2.10/32 lookup 10002 proto 114",
                                "pref 20200 from 10.90.2.22/32 lookup 10002 proto 114",
                            }));
  for (const auto& r : rules) EXPECT_TRUE(isQuasarRule(r)) << r.toString();
  // Nothing for an ENI with no pods but its own address; nothing at all without ENIs.
  EXPECT_TRUE(planEniRules({}, {}).empty());
}

TEST(EniRouting, Ipv6PodAddressesGetHostRulesOfTheirFamily) {
  auto rules = planEniRules({}, {{A("fd00:90:1::21"), 1}});
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].family, conf::Family::kV6);
  EXPECT_EQ(rules[0].dst->toString(), "fd00:90:1::21/128");
  EXPECT_EQ(rules[1].src->toString(), "fd00:90:1::21/128");
  EXPECT_EQ(rules[1].table, 10001u);
}

TEST(EniRouting, TableHoldsTheSubnetRouteBeforeTheDefaultViaTheRouter) {
  const auto eni = enis()[1];
  EXPECT_EQ(subnetRouter(eni.primary).toString(), "10.90.1.1");
  auto routes = planEniTableRoutes(eni, 7);
  ASSERT_EQ(routes.size(), 2u);
  // The kernel checks the default route's gateway against the table it goes into.
  EXPECT_EQ(routes[0].dst.toString(), "10.90.1.0/24");
  EXPECT_EQ(routes[0].scope, RT_SCOPE_LINK);
  EXPECT_EQ(routes[0].source->toString(), "10.90.1.10");
  EXPECT_FALSE(routes[0].gateway);
  EXPECT_EQ(routes[1].dst.toString(), "0.0.0.0/0");
  EXPECT_EQ(routes[1].gateway->toString(), "10.90.1.1");
  for (const auto& r : routes) {
    EXPECT_EQ(r.ifindex, 7);
    EXPECT_EQ(r.table, 10001u);
    EXPECT_EQ(r.protocol, kNodeRouteProtocol);
  }
}

TEST(RuleReconciler, OwnsOnlyItsProtocolInsideItsRange) {
  Rule r;
  r.priority = kToPodRulePriority;
  EXPECT_TRUE(isQuasarRule(r));
  r.protocol = 0;  // `ip rule add` without "proto": someone else's
  EXPECT_FALSE(isQuasarRule(r));
  r.protocol = kRuleProtocol;
  for (uint32_t p : {512u, kRulePriorityFirst - 1, kRulePriorityLast + 1, 32766u}) {
    r.priority = p;
    EXPECT_FALSE(isQuasarRule(r)) << p;
  }
}

}  // namespace
}  // namespace quasar::routing
