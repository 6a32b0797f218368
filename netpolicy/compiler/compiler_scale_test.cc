#include "gtest/gtest.h"
#include "netpolicy/compiler/compiler.h"
#include "netpolicy/compiler/test_model.h"

namespace quasar::netpolicy {
namespace {

size_t ruleCount(const Ruleset& r) {
  size_t n = 0;
  for (const auto& c : r.chains) n += c.rules.size();
  return n;
}

TEST(CompilerScale, ThousandPoliciesOverTenThousandPods) {
  auto small = compile(testing::benchShape(1000), {conf::Family::kV4, "n1"});
  auto big = compile(testing::benchShape(10000), {conf::Family::kV4, "n1"});
  ASSERT_TRUE(small.ok() && big.ok());
  EXPECT_EQ(ruleCount(*small), ruleCount(*big));
  EXPECT_LT(ruleCount(*big), 10000u);
  size_t members = 0;
  for (const auto& s : big->sets) members += s.entries.size();
  EXPECT_GT(members, 10000u);
}

}  // namespace
}  // namespace quasar::netpolicy
