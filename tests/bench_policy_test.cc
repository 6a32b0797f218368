// The policy benchmark's smoke run (label netns): 10 policies over 100 pods, one round, a few
// events and policy changes, so the benchmark's code cannot rot. scripts/bench-policy.sh runs the
// real sizes. runPolicyBench() itself fails when the kernel does not hold what was applied.

#include "tests/bench_policy.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace quasar::bench {
namespace {

TEST(BenchPolicy, SmokeRunMeasuresEveryPartAndTheKernelHoldsIt) {
  ASSERT_NE(std::getenv("QUASAR_TEST_NETNS"), nullptr) << "run through tests/in-netns.sh";
  PolicyBenchOptions o;
  o.policies = 10;
  o.pod_counts = {50, 100};
  o.rounds = 1;
  o.events = 5;
  o.policy_changes = 2;
  auto r = runPolicyBench(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->syncs.size(), 2u);
  for (const auto& s : r->syncs) {
    EXPECT_EQ(s.total_ms.size(), 1u);
    EXPECT_EQ(s.floor_ms.size(), 1u);
    EXPECT_GT(s.ours.rules, 0u);
    EXPECT_EQ(s.ours.hooks, 2u);
    EXPECT_GT(s.ours.members, 0u);
  }
  // The rules depend on the policies only.
  EXPECT_EQ(r->syncs[0].ours.rules, r->syncs[1].ours.rules);
  EXPECT_LT(r->syncs[0].ours.members, r->syncs[1].ours.members);
  ASSERT_EQ(r->pod_events.size(), 3u);
  for (const auto& e : r->pod_events) EXPECT_EQ(e.total_ms.size(), 5u) << e.what;
  ASSERT_EQ(r->policy_changes.size(), 3u);
  for (const auto& c : r->policy_changes) EXPECT_EQ(c.total_ms.size(), 2u) << c.what;
  const std::string rows = policyBenchRows(*r);
  EXPECT_NE(rows.find("full sync, 10 policies over 100 pods: total"), std::string::npos) << rows;
  EXPECT_NE(rows.find("pod relabelled at 100 pods"), std::string::npos) << rows;
  std::printf("%s%s", policyBenchHeader().c_str(), rows.c_str());
}

}  // namespace
}  // namespace quasar::bench
