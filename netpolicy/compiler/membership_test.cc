// Membership: a compiled ruleset patched for pod events equals compile() of the changed model.

#include "netpolicy/compiler/membership.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iterator>
#include <optional>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "netpolicy/compiler/compiler.h"
#include "netpolicy/compiler/random_model.h"
#include "netpolicy/compiler/render.h"
#include "netpolicy/compiler/test_model.h"

namespace quasar::netpolicy {
namespace {

using testing::ip;

std::string entriesText(const IpSet& s) {
  std::vector<std::string> out;
  for (const auto& e : s.entries) out.push_back(e.nomatch ? e.text + " nomatch" : e.text);
  return absl::StrJoin(out, " ");
}

// Set by set, then the rules.
::testing::AssertionResult sameRuleset(const Ruleset& got, const Ruleset& want) {
  if (got.sets.size() != want.sets.size()) {
    return ::testing::AssertionFailure()
           << got.sets.size() << " sets, compile() has " << want.sets.size();
  }
  for (size_t i = 0; i < got.sets.size(); ++i) {
    const IpSet &g = got.sets[i], &w = want.sets[i];
    if (g.name != w.name || g.canonical != w.canonical || g.type != w.type) {
      return ::testing::AssertionFailure() << "set " << g.name << " where compile() has " << w.name;
    }
    if (g.entries != w.entries) {
      return ::testing::AssertionFailure()
             << "set " << g.name << " (" << g.canonical << ")\n  patched: " << entriesText(g)
             << "\n  compile: " << entriesText(w);
    }
  }
  if (renderIptables(got) != renderIptables(want)) {
    return ::testing::AssertionFailure() << "the rules differ";
  }
  return ::testing::AssertionSuccess();
}

// What changed between two rulesets' sets, as a PodSetDelta would say it.
PodSetDelta setDiff(const Ruleset& before, const Ruleset& after) {
  PodSetDelta d;
  for (size_t i = 0; i < before.sets.size() && i < after.sets.size(); ++i) {
    const auto &b = before.sets[i].entries, &a = after.sets[i].entries;
    std::vector<SetEntry> added, removed;
    std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(added));
    std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(removed));
    for (auto& e : added) d.added.push_back({before.sets[i].name, e});
    for (auto& e : removed) d.removed.push_back({before.sets[i].name, e});
  }
  return d;
}

// Random pod events on a model: add, delete, relabel, new addresses, new named ports, a node.
// Addresses come from a small pool that overlaps the e2e cluster's, so pods share addresses.
class PodEvents {
 public:
  explicit PodEvents(uint32_t seed) : rng_(seed) {}

  struct Event {
    std::optional<Pod> old_pod, new_pod;
  };

  Event next(Model* m) {
    int kind = pick(7);
    if (m->pods.empty()) kind = 0;
    if (kind == 0) {
      Pod p;
      p.namespace_name = one({"x", "y", "z", "w"});  // w: a namespace the model does not have
      p.name = absl::StrCat("q", added_++);
      p.ips = ips();
      p.labels = labels();
      p.node = node();
      p.ports = ports();
      m->pods.push_back(p);
      return {std::nullopt, p};
    }
    const size_t i = pick(static_cast<int>(m->pods.size()));
    Event e{m->pods[i], std::nullopt};
    if (kind == 1) {
      m->pods.erase(m->pods.begin() + static_cast<long>(i));
      return e;
    }
    Pod& p = m->pods[i];
    if (kind == 2 || kind == 6) p.labels = labels();
    if (kind == 3 || kind == 6) p.ips = ips();
    if (kind == 4 || kind == 6) p.ports = ports();
    if (kind == 5 || kind == 6) p.node = node();
    e.new_pod = p;
    return e;
  }

 private:
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  std::string one(std::vector<std::string> v) { return v[pick(static_cast<int>(v.size()))]; }

  std::vector<conf::IpAddress> ips() {
    std::vector<conf::IpAddress> out;
    for (int n = pick(4); n > 0; --n) {
      out.push_back(pick(3) ? ip(absl::StrCat("10.1.", pick(3), ".", 1 + pick(4)))
                            : ip(absl::StrCat("fd00::1:", 1 + pick(3))));
    }
    return out;
  }
  Labels labels() {
    Labels l;
    if (pick(4)) l["pod"] = one({"a", "b", "c", "d"});
    if (pick(2)) l["env"] = one({"prod", "dev"});
    if (pick(4) == 0) l["team"] = "red";
    return l;
  }
  std::vector<NamedPort> ports() {
    const std::vector<NamedPort> all = {
        {"serve-80-tcp", 80, Protocol::kTcp}, {"serve-81-tcp", 81, Protocol::kTcp},
        {"serve-81-tcp", 82, Protocol::kTcp}, {"serve-80-udp", 80, Protocol::kUdp},
        {"serve-80-tcp", 80, Protocol::kUdp}, {"serve-80-tcp", 0, Protocol::kTcp}};
    std::vector<NamedPort> out;
    for (const auto& p : all) {
      if (pick(3) == 0) out.push_back(p);
    }
    return out;
  }
  std::string node() { return one({"n1", "n2", "", "n9"}); }

  std::mt19937 rng_;
  int added_ = 0;
};

TEST(Membership, PatchedRulesetEqualsCompileOfTheChangedModel) {
  int events = 0, shared = 0, changed = 0;
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    Model m = testing::RandomModel(seed).make();
    const CompileOptions options{seed % 4 == 0 ? conf::Family::kV6 : conf::Family::kV4, "n1"};
    if (options.family == conf::Family::kV6) {
      for (size_t i = 0; i < m.pods.size(); ++i) {
        m.pods[i].ips.push_back(ip(absl::StrCat("fd00::1:", i % 4)));
      }
    }
    // Both ways to a Membership: its own walk, or the compile's.
    std::vector<PodSetDefinition> definitions;
    auto ruleset = compile(m, options, &definitions);
    ASSERT_TRUE(ruleset.ok()) << "seed " << seed;
    auto membership = seed % 2 ? Membership::build(m, options)
                               : Membership::fromCompile(m, options, std::move(definitions));
    ASSERT_TRUE(membership.ok()) << "seed " << seed;
    PodEvents pods(seed);
    for (int step = 0; step < 30; ++step, ++events) {
      const Ruleset before = *ruleset;
      auto event = pods.next(&m);
      const Pod* old_pod = event.old_pod ? &*event.old_pod : nullptr;
      const Pod* new_pod = event.new_pod ? &*event.new_pod : nullptr;
      auto delta = membership->applyPodChange(old_pod, new_pod, &*ruleset);
      ASSERT_TRUE(delta.ok()) << "seed " << seed << " step " << step << ": " << delta.status();
      auto want = compile(m, options);
      ASSERT_TRUE(want.ok());
      ASSERT_TRUE(sameRuleset(*ruleset, *want)) << "seed " << seed << " step " << step;
      PodSetDelta diff = setDiff(before, *want);
      EXPECT_EQ(delta->added, diff.added) << "seed " << seed << " step " << step;
      EXPECT_EQ(delta->removed, diff.removed) << "seed " << seed << " step " << step;
      if (!delta->empty()) ++changed;
      // An entry the old pod had and the new one has not, yet another pod still gives.
      if (old_pod != nullptr) {
        auto before_entries = membership->entriesOf(*old_pod);
        auto after_entries =
            new_pod != nullptr ? membership->entriesOf(*new_pod) : std::vector<PodSetEntry>{};
        std::vector<PodSetEntry> gone;
        std::set_difference(before_entries.begin(), before_entries.end(), after_entries.begin(),
                            after_entries.end(), std::back_inserter(gone));
        if (gone.size() > delta->removed.size()) ++shared;
      }
    }
  }
  // The comparison covered real changes and addresses two pods shared.
  EXPECT_GT(changed, events / 4);
  EXPECT_GT(shared, 50);
  std::printf("%d pod events, %d changed sets, %d kept an entry another pod shares\n", events,
              changed, shared);
}

TEST(Membership, SharedAddressStaysUntilNoPodHasIt) {
  Model m = testing::e2eCluster();
  m.policies.push_back(testing::policy("x", "p", {}));
  const CompileOptions options{conf::Family::kV4, ""};
  auto r = compile(m, options);
  auto membership = Membership::build(m, options);
  ASSERT_TRUE(r.ok() && membership.ok());
  const Pod a = m.pods[0];  // x/a, 10.1.0.1
  Pod twin = testing::pod("x", "a2", "10.1.0.1", {});
  auto added = membership->applyPodChange(nullptr, &twin, &*r);
  ASSERT_TRUE(added.ok());
  EXPECT_TRUE(added->empty());
  auto deleted = membership->applyPodChange(&a, nullptr, &*r);
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(deleted->empty());  // x/a2 still has 10.1.0.1
  auto last = membership->applyPodChange(&twin, nullptr, &*r);
  ASSERT_TRUE(last.ok());
  // the policy's targets, the isolated pods, those of namespace x
  ASSERT_EQ(last->removed.size(), 3u);
  for (const auto& e : last->removed) EXPECT_EQ(e.entry.text, "10.1.0.1");
}

TEST(Membership, UnknownOldPodFailsAndChangesNothing) {
  Model m = testing::e2eCluster();
  m.policies.push_back(testing::policy("x", "p", {}));
  const CompileOptions options{conf::Family::kV4, ""};
  auto r = compile(m, options);
  auto membership = Membership::build(m, options);
  ASSERT_TRUE(r.ok() && membership.ok());
  const Ruleset before = *r;
  Pod stranger = testing::pod("x", "s", "10.1.0.9", {});
  Pod moved = stranger;
  moved.ips = {ip("10.1.0.10")};
  auto delta = membership->applyPodChange(&stranger, &moved, &*r);
  EXPECT_EQ(delta.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(sameRuleset(*r, before));
  // A ruleset of another model lacks the sets.
  Ruleset empty;
  EXPECT_EQ(membership->applyPodChange(nullptr, &moved, &empty).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// Namespace and node labels are those of build(): after a change of them, pod events alone do
// not give compile()'s sets; compile() and build() again do.
TEST(Membership, NamespaceOrNodeLabelChangeNeedsANewBuild) {
  for (bool node : {false, true}) {
    SCOPED_TRACE(node ? "node labels" : "namespace labels");
    Model m = testing::e2eCluster();
    Policy p = testing::policy("x", "p", testing::sel({{"pod", "a"}}));
    Peer peer = testing::nsPeer({});
    if (node) {
      peer.node_selector = testing::sel({{"team", "red"}});
    } else {
      peer.namespace_selector = testing::sel({{"team", "red"}});
    }
    p.ingress.push_back({{peer}, {}});
    m.policies.push_back(p);
    const CompileOptions options{conf::Family::kV4, "n1"};
    auto r = compile(m, options);
    auto membership = Membership::build(m, options);
    ASSERT_TRUE(r.ok() && membership.ok());

    // y's namespace (or the node n1 of x and y) gets team=red, then y/b is relabelled.
    if (node) {
      m.nodes[0].labels["team"] = "red";
    } else {
      m.namespaces[1].labels["team"] = "red";
    }
    const Pod old_b = m.pods[4];
    m.pods[4].labels["env"] = "dev";
    ASSERT_TRUE(membership->applyPodChange(&old_b, &m.pods[4], &*r).ok());
    auto want = compile(m, options);
    ASSERT_TRUE(want.ok());
    EXPECT_FALSE(sameRuleset(*r, *want)) << "the stale Membership missed the label change";

    r = compile(m, options);
    membership = Membership::build(m, options);
    ASSERT_TRUE(r.ok() && membership.ok());
    const Pod old_c = m.pods[5];
    m.pods[5].labels["env"] = "dev";
    ASSERT_TRUE(membership->applyPodChange(&old_c, &m.pods[5], &*r).ok());
    want = compile(m, options);
    ASSERT_TRUE(want.ok());
    EXPECT_TRUE(sameRuleset(*r, *want));
  }
}

TEST(Membership, DefinitionsAreTheComputedPodSets) {
  Model m = testing::RandomModel(7).make();
  const CompileOptions options{conf::Family::kV4, "n1"};
  auto r = compile(m, options);
  auto membership = Membership::build(m, options);
  ASSERT_TRUE(r.ok() && membership.ok());
  ASSERT_FALSE(membership->definitions().empty());
  for (const auto& d : membership->definitions()) {
    auto it = std::find_if(r->sets.begin(), r->sets.end(),
                           [&](const IpSet& s) { return s.name == d.set; });
    ASSERT_NE(it, r->sets.end());
    EXPECT_EQ(it->type, d.type);
  }
  // The other sets (node, ipBlock) are not the pods'.
  for (const auto& s : r->sets) {
    const bool pods =
        std::any_of(membership->definitions().begin(), membership->definitions().end(),
                    [&](const PodSetDefinition& d) { return d.set == s.name; });
    const bool pod_dependent = s.canonical.find("pods(") != std::string::npos ||
                               s.canonical.find("isolated(") != std::string::npos;
    EXPECT_EQ(pods, pod_dependent) << s.canonical;
  }
}

TEST(Membership, FailsAsCompileDoes) {
  Model m = testing::e2eCluster();
  Policy p = testing::policy("x", "p", {});
  p.ingress.push_back({{}, {testing::tcp(70000)}});
  m.policies.push_back(p);
  EXPECT_EQ(Membership::build(m, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace quasar::netpolicy
