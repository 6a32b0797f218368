#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "netpolicy/compiler/compiler.h"
#include "netpolicy/compiler/test_model.h"

namespace quasar::netpolicy {
namespace {

using testing::nsPeer;
using testing::podPeer;
using testing::sel;
using testing::tcp;

// The benchmark's shape (issue 14): 1,000 policies over 10,000 pods in 100 namespaces. The rule
// count is the same as with 1,000 pods.
Model benchShape(int pods) {
  Model m;
  m.nodes = {{"n1", {{"gpu", "true"}}, {testing::ip("172.16.0.1")}}};
  for (int n = 0; n < 100; ++n) {
    m.namespaces.push_back({absl::StrCat("ns", n), {{"team", absl::StrCat("t", n % 10)}}});
  }
  for (int i = 0; i < pods; ++i) {
    m.pods.push_back(testing::pod(
        absl::StrCat("ns", i % 100), absl::StrCat("p", i),
        absl::StrCat("10.", 8 + i / 65536, ".", i / 256 % 256, ".", i % 256),
        {{"app", absl::StrCat("app", i % 50)}}, "n1", {{"http", 8080, Protocol::kTcp}}));
  }
  for (int k = 0; k < 1000; ++k) {
    Policy p = testing::policy(absl::StrCat("ns", k % 100), absl::StrCat("pol", k),
                               sel({{"app", absl::StrCat("app", k % 50)}}));
    p.ingress.push_back({{nsPeer(sel({{"team", absl::StrCat("t", k % 10)}})),
                          podPeer(sel({{"app", absl::StrCat("app", (k + 1) % 50)}}))},
                         {tcp(80), tcp(443), testing::named("http")}});
    m.policies.push_back(p);
  }
  return m;
}

size_t ruleCount(const Ruleset& r) {
  size_t n = 0;
  for (const auto& c : r.chains) n += c.rules.size();
  return n;
}

TEST(CompilerScale, ThousandPoliciesOverTenThousandPods) {
  auto small = compile(benchShape(1000), {conf::Family::kV4, "n1"});
  auto big = compile(benchShape(10000), {conf::Family::kV4, "n1"});
  ASSERT_TRUE(small.ok() && big.ok());
  EXPECT_EQ(ruleCount(*small), ruleCount(*big));
  EXPECT_LT(ruleCount(*big), 10000u);
  size_t members = 0;
  for (const auto& s : big->sets) members += s.entries.size();
  EXPECT_GT(members, 10000u);
}

}  // namespace
}  // namespace quasar::netpolicy
