#include "netpolicy/kernel/applier.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "netpolicy/compiler/test_model.h"
#include "netpolicy/kernel/fake_policy_kernel.h"

namespace quasar::netpolicy {
namespace {

using conf::Family;
using testing::FakePolicyKernel;

constexpr Family kV4 = Family::kV4;
constexpr Family kV6 = Family::kV6;

Policy allowFromY() {
  Policy p = testing::policy("x", "allow-y", testing::sel({{"pod", "a"}}));
  p.ingress.push_back({{testing::nsPeer(testing::sel({{"ns", "y"}})),
                        testing::blockPeer("10.9.0.0/16", {"10.9.1.0/24"})},
                       {testing::tcp(80), testing::named("serve-81-tcp")}});
  return p;
}

Policy egressToB() {
  Policy p = testing::policy("y", "egress-b", testing::sel({}));
  p.egress.push_back({{testing::podPeer(testing::sel({{"pod", "b"}}))}, {}});
  return p;
}

Model model(std::vector<Policy> policies) {
  Model m = testing::e2eCluster();
  m.pods.push_back(testing::pod("x", "v6", "10.1.0.9", {{"pod", "a"}}));
  m.pods.back().ips.push_back(testing::ip("fd00::9"));
  m.policies = std::move(policies);
  return m;
}

std::vector<Ruleset> compileBoth(const Model& m, bool v6 = true) {
  std::vector<Ruleset> out;
  for (Family f : {kV4, kV6}) {
    if (f == kV6 && !v6) continue;
    auto r = compile(m, {f, "n1"});
    EXPECT_TRUE(r.ok()) << r.status();
    out.push_back(*r);
  }
  return out;
}

// What the kernel holds, comparable across tamper and repair (chain order in the table aside).
struct Snapshot {
  std::map<Family, std::map<std::string, std::vector<std::string>>> chains;
  std::map<std::string, std::set<SetEntry>> sets;
  bool operator==(const Snapshot&) const = default;
};

Snapshot snapshot(const FakePolicyKernel& k) {
  Snapshot s;
  for (const auto& [f, t] : k.tables) s.chains[f] = t.chains;
  for (const auto& [name, set] : k.sets) s.sets[name] = set.entries;
  return s;
}

class ApplierTest : public ::testing::Test {
 protected:
  // Another program's state, which must survive everything.
  void addForeignState() {
    kernel_.addRule(kV4, "KUBE-FORWARD", "-m comment --comment kube -j ACCEPT");
    kernel_.addRule(kV4, "FORWARD", "-j KUBE-FORWARD");
    kernel_.addRule(kV4, "FORWARD", "-i eth9 -j DROP");
    kernel_.sets["kube-ips"] = {SetType::kHashIp, kV4, {{"10.200.0.1", false}}};
  }
  void expectForeignState() {
    EXPECT_EQ(kernel_.rules(kV4, "KUBE-FORWARD"),
              std::vector<std::string>{"-m comment --comment kube -j ACCEPT"});
    std::vector<std::string> forward;
    for (const auto& r : kernel_.rules(kV4, "FORWARD")) {
      if (r != "-j QUASAR-FORWARD") forward.push_back(r);
    }
    EXPECT_EQ(forward, (std::vector<std::string>{"-j KUBE-FORWARD", "-i eth9 -j DROP"}));
    EXPECT_EQ(kernel_.sets.count("kube-ips"), 1u);
  }

  FakePolicyKernel kernel_;
  Applier applier_{kernel_};
};

TEST_F(ApplierTest, FirstApplyInstallsEverything) {
  addForeignState();
  const auto desired = compileBoth(model({allowFromY(), egressToB()}));
  auto stats = applier_.apply(desired);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->restores, 2);
  for (const Ruleset& r : desired) {
    for (const IpSet& s : r.sets) {
      ASSERT_EQ(kernel_.sets.count(s.name), 1u) << s.name;
      EXPECT_EQ(kernel_.sets[s.name].entries.size(), s.entries.size()) << s.name;
      EXPECT_EQ(kernel_.sets[s.name].family, r.family);
    }
    for (const Chain& c : r.chains) {
      EXPECT_EQ(kernel_.rules(r.family, c.name).size(), c.rules.size()) << c.name;
    }
    EXPECT_EQ(kernel_.rules(r.family, "FORWARD").front(), "-j QUASAR-FORWARD");
    EXPECT_EQ(kernel_.rules(r.family, "INPUT").front(), "-j QUASAR-INPUT");
  }
  // The fake prints "-p tcp -m tcp --dport 80": the Applier wrote "-p tcp --dport 80".
  bool rewritten = false;
  for (const auto& [name, rules] : kernel_.tables[kV4].chains) {
    for (const auto& r : rules) rewritten = rewritten || r.find("-m tcp --dport 80") != r.npos;
  }
  EXPECT_TRUE(rewritten);
  EXPECT_EQ(kernel_.violations, 0);
  expectForeignState();
}

TEST_F(ApplierTest, SecondApplyOfTheSameStateTouchesNothing) {
  const auto desired = compileBoth(model({allowFromY(), egressToB()}));
  ASSERT_TRUE(applier_.apply(desired).ok());
  const int writes = kernel_.writes(), reads = kernel_.reads;
  auto stats = applier_.apply(desired);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_FALSE(stats->changed());
  EXPECT_EQ(kernel_.writes(), writes);
  EXPECT_EQ(kernel_.reads, reads);  // memory is trusted: not even a read
}

TEST_F(ApplierTest, APodAddedMovesSetMembersOnly) {
  Model m = model({allowFromY(), egressToB()});
  ASSERT_TRUE(applier_.apply(compileBoth(m)).ok());
  const int restores = kernel_.restores;
  m.pods.push_back(testing::pod("y", "d", "10.1.1.77", {{"pod", "b"}}, "n1"));
  auto stats = applier_.apply(compileBoth(m));
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GT(stats->members_added, 0);
  EXPECT_EQ(stats->restores, 0);
  EXPECT_EQ(kernel_.restores, restores);
  EXPECT_EQ(stats->chains_written, 0);
}

// A pod event's delta goes straight to the sets; a later apply() of the same state as a compile
// gives it finds nothing to do, and repair() keeps the new members.
TEST_F(ApplierTest, ChangeMembersAppliesAPodDeltaOnly) {
  Model m = model({allowFromY(), egressToB()});
  auto compiled = compile(m, {kV4, "n1"});
  ASSERT_TRUE(compiled.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(applier_.changeMembers(kV4, {}).status()));
  ASSERT_TRUE(applier_.apply({*compiled}).ok());
  auto membership = Membership::build(m, {kV4, "n1"});
  ASSERT_TRUE(membership.ok());
  Pod added = testing::pod("y", "d", "10.1.1.77", {{"pod", "b"}}, "n1");
  auto delta = membership->applyPodChange(nullptr, &added, &*compiled);
  ASSERT_TRUE(delta.ok()) << delta.status();
  ASSERT_FALSE(delta->added.empty());
  const int restores = kernel_.restores, reads = kernel_.reads;
  auto stats = applier_.changeMembers(kV4, *delta);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->members_added, static_cast<int>(delta->added.size()));
  EXPECT_EQ(kernel_.restores, restores);
  EXPECT_EQ(kernel_.reads, reads);
  for (const auto& e : delta->added) EXPECT_EQ(kernel_.sets[e.set].entries.count(e.entry), 1u);
  m.pods.push_back(added);
  auto again = applier_.apply(compileBoth(m, false));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed());
  auto repaired = applier_.repair();
  ASSERT_TRUE(repaired.ok());
  EXPECT_FALSE(repaired->changed());
  // An unknown set: refused, nothing changed.
  PodSetDelta bogus;
  bogus.added.push_back({"QSR-0000000000000000", {"10.9.9.9", false}});
  EXPECT_TRUE(absl::IsFailedPrecondition(applier_.changeMembers(kV4, bogus).status()));
}

// The cheap check: with nothing wrong it lists the sets and the hooks and reads no filter table;
// a removed hook or a flushed set sends it to the full repair, which puts them back.
// Without a filter generation (it cannot be read) quickRepair() never reads the filter table.
TEST_F(ApplierTest, QuickRepairChecksSetsAndHooksCheaply) {
  kernel_.no_generation = true;
  ASSERT_TRUE(applier_.apply(compileBoth(model({allowFromY(), egressToB()}))).ok());
  EXPECT_FALSE(applier_.watchesGeneration());
  const int filter_reads = kernel_.filter_reads;
  auto quiet = applier_.quickRepair();
  ASSERT_TRUE(quiet.ok()) << quiet.status();
  EXPECT_FALSE(quiet->changed());
  EXPECT_EQ(kernel_.filter_reads, filter_reads);
  EXPECT_GT(kernel_.hook_reads, 0);
  const Snapshot good = snapshot(kernel_);
  kernel_.removeHook(kV4, "QUASAR-FORWARD");
  auto fixed = applier_.quickRepair();
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_EQ(fixed->hooks_added, 1);
  EXPECT_EQ(snapshot(kernel_), good);
  std::string victim;
  for (const auto& [name, set] : kernel_.sets) {
    if (!set.entries.empty()) victim = name;
  }
  ASSERT_FALSE(victim.empty());
  kernel_.flushSet(victim);
  fixed = applier_.quickRepair();
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_GT(fixed->members_added, 0);
  EXPECT_EQ(snapshot(kernel_), good);
  EXPECT_EQ(kernel_.violations, 0);
}

std::string policyChain(const std::vector<Ruleset>& desired) {
  for (const Chain& c : desired[0].chains) {
    if (c.name.rfind("QUASAR-I-", 0) == 0) return c.name;
  }
  return "";
}

// With the generation: the table is read once after a write (to learn the kernel's text of the
// chains), then only when the generation moved; a tampered chain is back on the next call.
TEST_F(ApplierTest, QuickRepairReadsTheTableOnlyWhenTheGenerationMoved) {
  addForeignState();
  const auto desired = compileBoth(model({allowFromY(), egressToB()}));
  ASSERT_TRUE(applier_.apply(desired).ok());
  const std::string chain = policyChain(desired);
  ASSERT_FALSE(chain.empty());
  int reads = kernel_.filter_reads;
  auto learn = applier_.quickRepair();
  ASSERT_TRUE(learn.ok()) << learn.status();
  EXPECT_TRUE(applier_.watchesGeneration());
  EXPECT_FALSE(learn->changed());
  EXPECT_EQ(learn->filter_reads, 2);  // both families, once
  EXPECT_EQ(kernel_.filter_reads, reads + 2);
  const Snapshot good = snapshot(kernel_);
  reads = kernel_.filter_reads;
  for (int i = 0; i < 20; ++i) {
    auto quiet = applier_.quickRepair();
    ASSERT_TRUE(quiet.ok()) << quiet.status();
    EXPECT_EQ(quiet->filter_reads, 0);
  }
  EXPECT_EQ(kernel_.filter_reads, reads);
  // Set members (ipset) do not move the generation: still no read.
  Model m = model({allowFromY(), egressToB()});
  m.pods.push_back(testing::pod("y", "new", "10.1.1.9", {{"pod", "b"}}));
  ASSERT_TRUE(applier_.apply(compileBoth(m)).ok());
  ASSERT_TRUE(applier_.apply(desired).ok());
  ASSERT_TRUE(applier_.quickRepair().ok());
  EXPECT_EQ(kernel_.filter_reads, reads);

  const std::vector<std::pair<std::string, std::function<void()>>> tampers = {
      {"flush policy chain", [&] { kernel_.flushChain(kV4, chain); }},
      {"delete policy chain", [&] { kernel_.deleteChain(kV4, chain); }},
      {"flush v6 QUASAR-EGRESS", [&] { kernel_.flushChain(kV6, "QUASAR-EGRESS"); }},
      {"edit a rule (same count)",
       [&] {
         kernel_.tables[kV4].chains[chain].back() = "-j ACCEPT";
         kernel_.bumpGeneration();
       }},
  };
  for (const auto& [what, tamper] : tampers) {
    tamper();
    ASSERT_NE(snapshot(kernel_), good) << what;
    auto fixed = applier_.quickRepair();
    ASSERT_TRUE(fixed.ok()) << what << ": " << fixed.status();
    EXPECT_GT(fixed->chains_written, 0) << what;
    EXPECT_EQ(snapshot(kernel_), good) << what;
    ASSERT_TRUE(applier_.quickRepair().ok());  // learns the rewritten chain's text
    reads = kernel_.filter_reads;
    auto quiet = applier_.quickRepair();
    ASSERT_TRUE(quiet.ok());
    EXPECT_FALSE(quiet->changed()) << what;
    EXPECT_EQ(kernel_.filter_reads, reads) << what;
  }
  // Another program's change: one read, nothing to do, then quiet again.
  kernel_.addRule(kV4, "KUBE-FORWARD", "-s 10.9.9.9 -j DROP");
  reads = kernel_.filter_reads;
  auto other = applier_.quickRepair();
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->changed());
  EXPECT_GT(kernel_.filter_reads, reads);
  reads = kernel_.filter_reads;
  ASSERT_TRUE(applier_.quickRepair().ok());
  EXPECT_EQ(kernel_.filter_reads, reads);
  EXPECT_EQ(kernel_.violations, 0);
}

// A change made while the table is being read is not in what that read saw; the generation
// remembered is the one from before the read, so the next call reads again and repairs it.
TEST_F(ApplierTest, AChangeDuringTheReadIsSeenNextTime) {
  const auto desired = compileBoth(model({allowFromY(), egressToB()}));
  ASSERT_TRUE(applier_.apply(desired).ok());
  ASSERT_TRUE(applier_.quickRepair().ok());
  const Snapshot good = snapshot(kernel_);
  const std::string chain = policyChain(desired);
  kernel_.addRule(kV4, "KUBE-FORWARD", "-j ACCEPT");  // moves the generation: a read follows
  kernel_.during_filter_read = [&](FakePolicyKernel& k) { k.flushChain(kV4, chain); };
  auto missed = applier_.quickRepair();
  ASSERT_TRUE(missed.ok()) << missed.status();
  EXPECT_EQ(missed->chains_written, 0);  // the read showed the chain intact
  EXPECT_TRUE(kernel_.rules(kV4, chain).empty());
  auto fixed = applier_.quickRepair();
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_EQ(fixed->chains_written, 1);
  EXPECT_EQ(snapshot(kernel_).chains[kV4][chain], good.chains.at(kV4).at(chain));
}

// The caller bounds the reads: with full_allowed false a moved generation waits for a call
// that allows it (the cheap set and hook checks still run).
TEST_F(ApplierTest, QuickRepairLeavesTheReadToACallThatAllowsIt) {
  const auto desired = compileBoth(model({allowFromY(), egressToB()}));
  ASSERT_TRUE(applier_.apply(desired).ok());
  ASSERT_TRUE(applier_.quickRepair().ok());
  const Snapshot good = snapshot(kernel_);
  EXPECT_FALSE(applier_.filterChanged());
  kernel_.flushChain(kV4, policyChain(desired));
  EXPECT_TRUE(applier_.filterChanged());  // one generation read, no table read
  const int reads = kernel_.filter_reads;
  auto later = applier_.quickRepair(/*full_allowed=*/false);
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_FALSE(later->changed());
  EXPECT_EQ(kernel_.filter_reads, reads);
  auto now = applier_.quickRepair(/*full_allowed=*/true);
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_EQ(now->chains_written, 1);
  EXPECT_EQ(snapshot(kernel_), good);
  EXPECT_TRUE(applier_.filterChanged());  // the rewritten chain's text is still to learn
  ASSERT_TRUE(applier_.quickRepair().ok());
  EXPECT_FALSE(applier_.filterChanged());
}

// No generation (it cannot be read): a tampered chain waits for repair().
TEST_F(ApplierTest, WithoutAGenerationChainsAreLeftToRepair) {
  kernel_.no_generation = true;
  const auto desired = compileBoth(model({allowFromY(), egressToB()}));
  ASSERT_TRUE(applier_.apply(desired).ok());
  const Snapshot good = snapshot(kernel_);
  kernel_.flushChain(kV4, policyChain(desired));
  const int reads = kernel_.filter_reads;
  for (int i = 0; i < 3; ++i) {
    auto quick = applier_.quickRepair();
    ASSERT_TRUE(quick.ok()) << quick.status();
    EXPECT_FALSE(quick->changed());
  }
  EXPECT_EQ(kernel_.filter_reads, reads);
  EXPECT_FALSE(applier_.watchesGeneration());
  EXPECT_FALSE(applier_.filterChanged());
  auto full = applier_.repair();
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->chains_written, 1);
  EXPECT_EQ(snapshot(kernel_), good);
}

TEST_F(ApplierTest, APolicyRemovedLosesItsChainThenItsSets) {
  addForeignState();
  ASSERT_TRUE(applier_.apply(compileBoth(model({allowFromY(), egressToB()}))).ok());
  const auto after = compileBoth(model({egressToB()}));
  auto stats = applier_.apply(after);
  ASSERT_TRUE(stats.ok()) << stats.status();
  // The policy's chain and its namespace's (no other ingress policy there), in v4 and v6.
  EXPECT_EQ(stats->chains_removed, 4);
  EXPECT_GT(stats->sets_destroyed, 0);
  EXPECT_EQ(stats->restores, 2);
  EXPECT_EQ(kernel_.violations, 0);
  // Exactly the desired chains and sets remain.
  size_t quasar_sets = 0;
  for (const auto& [name, s] : kernel_.sets) quasar_sets += name.rfind("QSR-", 0) == 0;
  size_t want_sets = 0;
  for (const auto& r : after) want_sets += r.sets.size();
  EXPECT_EQ(quasar_sets, want_sets);
  for (const auto& r : after) {
    size_t chains = 0;
    for (const auto& [name, c] : kernel_.tables[r.family].chains)
      chains += name.rfind("QUASAR-", 0) == 0;
    EXPECT_EQ(chains, r.chains.size());
  }
  expectForeignState();
}

TEST_F(ApplierTest, RepairPutsBackEachKindOfTamper) {
  const auto desired = compileBoth(model({allowFromY(), egressToB()}));
  ASSERT_TRUE(applier_.apply(desired).ok());
  const Snapshot good = snapshot(kernel_);
  {
    const int writes = kernel_.writes();
    auto stats = applier_.repair();
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_FALSE(stats->changed());
    EXPECT_EQ(kernel_.writes(), writes);
  }
  std::string policy_chain, member_set;
  for (const Chain& c : desired[0].chains) {
    if (c.name.rfind("QUASAR-I-", 0) == 0) policy_chain = c.name;
  }
  for (const IpSet& s : desired[0].sets) {
    if (s.entries.size() > 1) member_set = s.name;
  }
  ASSERT_FALSE(policy_chain.empty());
  ASSERT_FALSE(member_set.empty());
  const std::vector<std::pair<std::string, std::function<void()>>> tampers = {
      {"flush set", [&] { kernel_.flushSet(member_set); }},
      {"delete a member",
       [&] { kernel_.sets[member_set].entries.erase(kernel_.sets[member_set].entries.begin()); }},
      {"extra member",
       [&] {
         kernel_.sets[member_set].entries.insert({"10.250.0.1", false});
       }},
      {"delete policy chain", [&] { kernel_.deleteChain(kV4, policy_chain); }},
      {"flush QUASAR-INGRESS", [&] { kernel_.flushChain(kV4, "QUASAR-INGRESS"); }},
      {"flush v6 QUASAR-EGRESS", [&] { kernel_.flushChain(kV6, "QUASAR-EGRESS"); }},
      {"remove FORWARD hook", [&] { kernel_.removeHook(kV4, "QUASAR-FORWARD"); }},
      {"remove INPUT hook", [&] { kernel_.removeHook(kV6, "QUASAR-INPUT"); }},
      {"delete QUASAR-FORWARD", [&] { kernel_.deleteChain(kV4, "QUASAR-FORWARD"); }},
      {"edit a rule", [&] { kernel_.tables[kV4].chains[policy_chain].back() = "-j ACCEPT"; }},
  };
  for (const auto& [what, tamper] : tampers) {
    tamper();
    ASSERT_NE(snapshot(kernel_), good) << what;
    auto stats = applier_.repair();
    ASSERT_TRUE(stats.ok()) << what << ": " << stats.status();
    EXPECT_TRUE(stats->changed()) << what;
    EXPECT_EQ(snapshot(kernel_), good) << what;
    EXPECT_EQ(kernel_.violations, 0) << what;
    auto again = applier_.repair();
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->changed()) << what;
  }
}

TEST_F(ApplierTest, RecoversAfterInjectedFailures) {
  Model m = model({allowFromY(), egressToB()});
  FakePolicyKernel reference;
  Applier ref(reference);

  kernel_.fail_restores = 1;
  EXPECT_FALSE(applier_.apply(compileBoth(m)).ok());
  ASSERT_TRUE(applier_.apply(compileBoth(m)).ok());
  ASSERT_TRUE(ref.apply(compileBoth(m)).ok());
  EXPECT_EQ(snapshot(kernel_), snapshot(reference));

  m.pods.push_back(testing::pod("y", "d", "10.1.1.77", {{"pod", "b"}}, "n1"));
  m.pods.push_back(testing::pod("y", "e", "10.1.1.78", {{"pod", "b"}}, "n1"));
  kernel_.fail_set_changes = 1;  // half the batch lands
  EXPECT_FALSE(applier_.apply(compileBoth(m)).ok());
  ASSERT_TRUE(applier_.apply(compileBoth(m)).ok());
  ASSERT_TRUE(ref.apply(compileBoth(m)).ok());
  EXPECT_EQ(snapshot(kernel_), snapshot(reference));

  m.policies.pop_back();
  ASSERT_TRUE(applier_.apply(compileBoth(m)).ok());
  kernel_.fail_reads = 1;  // repair's read of the kernel
  EXPECT_FALSE(applier_.repair().ok());
  // repair() after a failure re-applies what was last asked for.
  auto repaired = applier_.repair();
  ASSERT_TRUE(repaired.ok()) << repaired.status();
  ASSERT_TRUE(ref.apply(compileBoth(m)).ok());
  EXPECT_EQ(snapshot(kernel_), snapshot(reference));
  EXPECT_EQ(kernel_.violations, 0);
}

TEST_F(ApplierTest, LeftoversOfAPreviousProcessAreRemoved) {
  addForeignState();
  {
    Applier previous(kernel_);
    ASSERT_TRUE(previous.apply(compileBoth(model({allowFromY(), egressToB()}))).ok());
  }
  FakePolicyKernel reference;
  Applier ref(reference);
  const auto desired = compileBoth(model({egressToB()}), /*v6=*/false);
  ASSERT_TRUE(ref.apply(desired).ok());
  auto stats = applier_.apply(desired);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GT(stats->chains_removed, 0);
  EXPECT_GT(stats->sets_destroyed, 0);
  Snapshot got = snapshot(kernel_), want = snapshot(reference);
  got.sets.erase("kube-ips");
  got.chains[kV4].erase("KUBE-FORWARD");
  std::erase_if(got.chains[kV4]["FORWARD"],
                [](const std::string& r) { return r != "-j QUASAR-FORWARD"; });
  EXPECT_EQ(got, want);
  EXPECT_EQ(kernel_.violations, 0);
  expectForeignState();

  ASSERT_TRUE(applier_.removeAll().ok());
  for (const auto& [name, s] : kernel_.sets) EXPECT_NE(name.rfind("QSR-", 0), 0u) << name;
  for (Family f : {kV4, kV6}) {
    for (const auto& [name, c] : kernel_.tables[f].chains) EXPECT_NE(name.rfind("QUASAR-", 0), 0u);
    for (const auto& r : kernel_.rules(f, "FORWARD")) EXPECT_EQ(r.find("QUASAR"), r.npos);
    for (const auto& r : kernel_.rules(f, "INPUT")) EXPECT_EQ(r.find("QUASAR"), r.npos);
  }
  expectForeignState();
}

TEST_F(ApplierTest, AFamilyDroppedFromTheDesiredStateIsRemoved) {
  ASSERT_TRUE(applier_.apply(compileBoth(model({allowFromY()}))).ok());
  ASSERT_TRUE(kernel_.hasChain(kV6, "QUASAR-FORWARD"));
  auto stats = applier_.apply(compileBoth(model({allowFromY()}), /*v6=*/false));
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_FALSE(kernel_.hasChain(kV6, "QUASAR-FORWARD"));
  EXPECT_TRUE(kernel_.rules(kV6, "FORWARD").empty());
  for (const auto& [name, s] : kernel_.sets) EXPECT_EQ(s.family, kV4) << name;
  EXPECT_TRUE(kernel_.hasChain(kV4, "QUASAR-FORWARD"));
  // From now on v6 costs nothing.
  const int reads = kernel_.reads, writes = kernel_.writes();
  ASSERT_TRUE(applier_.apply(compileBoth(model({allowFromY()}), false)).ok());
  ASSERT_TRUE(applier_.repair().ok());
  EXPECT_EQ(kernel_.writes(), writes);
  EXPECT_EQ(kernel_.reads, reads + 2);  // repair: the set list and v4's filter table
}

TEST_F(ApplierTest, MissingIp6tablesIsFineWhenNothingIsDesiredForV6) {
  kernel_.unavailable = {kV6};
  auto stats = applier_.apply(compileBoth(model({allowFromY()}), /*v6=*/false));
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_TRUE(applier_.repair().ok());
  EXPECT_TRUE(applier_.removeAll().ok());
  Applier other(kernel_);
  auto v6 = other.apply(compileBoth(model({allowFromY()})));
  EXPECT_TRUE(absl::IsUnavailable(v6.status())) << v6.status();
}

TEST_F(ApplierTest, RejectsTwoRulesetsForOneFamily) {
  auto r = compileBoth(model({}), false);
  r.push_back(r[0]);
  EXPECT_TRUE(absl::IsInvalidArgument(applier_.apply(r).status()));
}

}  // namespace
}  // namespace quasar::netpolicy
