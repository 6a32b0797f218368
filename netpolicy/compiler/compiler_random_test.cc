// Random models (fixed seeds, so a failure reproduces): explain() and a walk of the compiled
// rules must agree on every pod pair, port and protocol.

#include "gtest/gtest.h"
#include "netpolicy/compiler/compiler.h"
#include "netpolicy/compiler/explain.h"
#include "netpolicy/compiler/random_model.h"
#include "netpolicy/compiler/render.h"
#include "netpolicy/compiler/ruleset_simulator.h"
#include "netpolicy/compiler/test_model.h"

namespace quasar::netpolicy {
namespace {

TEST(CompilerRandom, ExplainAndCompiledRulesAgree) {
  const std::vector<std::pair<int, Protocol>> probes = {{80, Protocol::kTcp},
                                                        {81, Protocol::kTcp},
                                                        {82, Protocol::kTcp},
                                                        {80, Protocol::kUdp},
                                                        {80, Protocol::kSctp}};
  int allowed = 0, denied = 0;
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    Model m = testing::RandomModel(seed).make();
    auto r = compile(m, {conf::Family::kV4, "n1"});
    ASSERT_TRUE(r.ok()) << "seed " << seed << ": " << r.status();
    testing::RulesetSimulator sim(*r);
    for (const auto& [port, proto] : probes) {
      for (const auto& from : m.pods) {
        for (const auto& to : m.pods) {
          auto v =
              explain(m, from.namespace_name, from.name, to.namespace_name, to.name, port, proto);
          ASSERT_TRUE(v.ok());
          const bool kernel =
              sim.run({from.ips[0], to.ips[0], proto, port}) != testing::Outcome::kDrop;
          ASSERT_EQ(v->allowed, kernel)
              << "seed " << seed << " " << from.namespace_name << "/" << from.name << " -> "
              << to.namespace_name << "/" << to.name << " " << port << "/" << protocolName(proto)
              << "\n"
              << describe(*v) << renderIptables(*r);
          (v->allowed ? allowed : denied)++;
        }
      }
    }
  }
  // Both outcomes occur often enough for the comparison to mean something.
  EXPECT_GT(allowed, 10000);
  EXPECT_GT(denied, 10000);
}

}  // namespace
}  // namespace quasar::netpolicy
