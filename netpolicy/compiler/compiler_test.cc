#include "netpolicy/compiler/compiler.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netpolicy/compiler/render.h"
#include "netpolicy/compiler/test_model.h"

namespace quasar::netpolicy {
namespace {

using testing::blockPeer;
using testing::e2eCluster;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::nsPeer;
using testing::podPeer;
using testing::sel;
using testing::tcp;

Ruleset mustCompile(const Model& m, std::string node = "n1") {
  auto r = compile(m, {conf::Family::kV4, node});
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : Ruleset{};
}

const Chain* findChain(const Ruleset& r, const std::string& prefix) {
  for (const auto& c : r.chains) {
    if (c.name.rfind(prefix, 0) == 0) return &c;
  }
  return nullptr;
}

const IpSet* findSet(const Ruleset& r, const std::string& name) {
  for (const auto& s : r.sets) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::vector<std::string> texts(const IpSet& s) {
  std::vector<std::string> out;
  for (const auto& e : s.entries) out.push_back(e.nomatch ? e.text + " nomatch" : e.text);
  return out;
}

size_t ruleCount(const Ruleset& r) {
  size_t n = 0;
  for (const auto& c : r.chains) n += c.rules.size();
  return n;
}

std::string joined(const ChainRule& r) { return absl::StrJoin(r.args, " "); }

TEST(Compiler, NoPoliciesGivesOnlyTheFixedChains) {
  Ruleset r = mustCompile(e2eCluster());
  ASSERT_EQ(r.chains.size(), 4u);
  EXPECT_EQ(joined(r.chains[0].rules[0]), "-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT");
  EXPECT_EQ(r.chains[1].name, kEgressChain);
  EXPECT_EQ(r.chains[2].name, kIngressChain);
  EXPECT_EQ(r.chains[3].name, kInputChain);
  EXPECT_EQ(joined(r.chains[3].rules[0]), "-m conntrack --ctstate ESTABLISHED,RELATED -j RETURN");
  EXPECT_EQ(joined(r.chains[3].rules[1]), "-j QUASAR-EGRESS");
  // The local node's addresses always reach pods, before any isolation.
  ASSERT_EQ(r.sets.size(), 1u);
  EXPECT_THAT(texts(r.sets[0]), ::testing::ElementsAre("172.16.0.1"));
  EXPECT_EQ(joined(r.chains[2].rules[0]),
            absl::StrCat("-m set --match-set ", r.sets[0].name, " src -j RETURN"));
}

TEST(Compiler, DenyAllIngress) {
  Model m = e2eCluster();
  m.policies.push_back(testing::policy("x", "deny", {}));
  Ruleset r = mustCompile(m);
  const Chain* c = findChain(r, "QUASAR-I-");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(findChain(r, "QUASAR-E-"), nullptr);
  ASSERT_EQ(c->rules.size(), 1u);  // marks isolated, allows nothing
  EXPECT_EQ(joined(c->rules[0]), "-j MARK --set-xmark 0x20000/0x20000");
  const Chain& ingress = r.chains[2];
  const Chain* x = findChain(r, "QUASAR-NI-");  // namespace x's dispatch
  ASSERT_NE(x, nullptr);
  EXPECT_THAT(joined(ingress.rules[3]), HasSubstr(" dst -g " + x->name));
  ASSERT_EQ(x->rules.size(), 3u);
  EXPECT_THAT(joined(x->rules[0]), HasSubstr(" dst -j " + c->name));
  EXPECT_EQ(joined(x->rules.back()), "-m mark --mark 0x20000/0x30000 -j REJECT --reject-with icmp-admin-prohibited");
  EXPECT_EQ(joined(ingress.rules.back()), "-m mark --mark 0x20000/0x30000 -j REJECT --reject-with icmp-admin-prohibited");
}

// Policies select pods of their own namespace only: the dispatch branches by namespace (a set
// of the namespace's isolated pods, a goto to its chain), so a new connection of an isolated
// pod walks one rule per namespace with policies and its own namespace's policies.
TEST(Compiler, DispatchBranchesByNamespace) {
  Model m = e2eCluster();
  Policy xa = testing::policy("x", "a", sel({{"pod", "a"}}));
  Policy xb = testing::policy("x", "b", sel({{"pod", "b"}}));
  Policy yc = testing::policy("y", "c", sel({{"pod", "c"}}));
  m.policies = {xa, xb, yc};
  Ruleset r = mustCompile(m);
  const Chain& ingress = r.chains[2];
  // node RETURN, fast path, clear marks, x, y, two REJECTs
  ASSERT_EQ(ingress.rules.size(), 7u);
  std::vector<const Chain*> branches;
  std::vector<const IpSet*> sets;
  for (size_t i : {3u, 4u}) {
    const auto& t = ingress.rules[i].args;
    ASSERT_EQ(t.size(), 7u) << joined(ingress.rules[i]);
    EXPECT_EQ(t[5], "-g");
    branches.push_back(findChain(r, t[6]));
    sets.push_back(findSet(r, t[3]));
    ASSERT_TRUE(branches.back() != nullptr && sets.back() != nullptr);
  }
  std::vector<std::vector<std::string>> members = {texts(*sets[0]), texts(*sets[1])};
  std::sort(members.begin(), members.end());
  EXPECT_THAT(members, ::testing::ElementsAre(::testing::ElementsAre("10.1.0.1", "10.1.0.2"),
                                              ::testing::ElementsAre("10.1.1.3")));
  std::vector<size_t> sizes = {branches[0]->rules.size(), branches[1]->rules.size()};
  std::sort(sizes.begin(), sizes.end());
  EXPECT_THAT(sizes, ::testing::ElementsAre(3u, 4u));  // the policies' jumps + two REJECTs
}

// The fast path: one set per direction holds the pods some policy isolates; every other pod's
// packets leave the chain after that one lookup, before the marks and the dispatch.
TEST(Compiler, PodsNoPolicyIsolatesSkipTheDispatch) {
  Model m = e2eCluster();
  Policy in = testing::policy("x", "in-a", sel({{"pod", "a"}}));
  in.ingress.push_back({});
  Policy in2 = testing::policy("y", "in-b", sel({{"pod", "b"}}));
  in2.ingress.push_back({});
  Policy out = testing::policy("z", "out-c", sel({{"pod", "c"}}));
  out.policy_types = {Direction::kEgress};
  m.policies = {in, in2, out};
  Ruleset r = mustCompile(m);
  auto fastPath = [&](const Chain& c, size_t at, const char* dir) -> const IpSet* {
    const auto& t = c.rules.at(at).args;
    EXPECT_THAT(joined(c.rules[at]), ::testing::MatchesRegex(absl::StrCat(
                                         "-m set ! --match-set QSR-[0-9a-f]{16} ", dir,
                                         " -j RETURN")));
    const IpSet* set = t.size() > 4 ? findSet(r, t[4]) : nullptr;
    EXPECT_NE(set, nullptr);
    EXPECT_EQ(joined(c.rules.at(at + 1)), "-j MARK --set-xmark 0x0/0x30000");
    return set;
  };
  const IpSet* isolated_in = fastPath(r.chains[2], 1, "dst");  // after the node's RETURN
  const IpSet* isolated_out = fastPath(r.chains[1], 0, "src");
  ASSERT_TRUE(isolated_in != nullptr && isolated_out != nullptr);
  // x/a and y/b (ingress), z/c (egress): the e2e cluster's addresses.
  EXPECT_THAT(texts(*isolated_in), ::testing::ElementsAre("10.1.0.1", "10.1.1.2"));
  EXPECT_THAT(texts(*isolated_out), ::testing::ElementsAre("10.1.2.3"));

  // No egress policy: no egress fast path, nothing to skip.
  m.policies = {in};
  r = mustCompile(m);
  EXPECT_EQ(joined(r.chains[1].rules[0]), "-j MARK --set-xmark 0x0/0x30000");
}

TEST(Compiler, AllowAllIngressAndEgress) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "all", {});
  p.ingress.push_back({});
  p.egress.push_back({});
  m.policies.push_back(p);
  Ruleset r = mustCompile(m);
  for (const char* prefix : {"QUASAR-I-", "QUASAR-E-"}) {
    const Chain* c = findChain(r, prefix);
    ASSERT_NE(c, nullptr) << prefix;
    ASSERT_EQ(c->rules.size(), 2u);
    EXPECT_EQ(joined(c->rules[1]), "-j MARK --set-xmark 0x10000/0x10000");
  }
}

TEST(Compiler, DenyAllEgress) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "deny-egress", {});
  p.policy_types = {Direction::kEgress};
  m.policies.push_back(p);
  Ruleset r = mustCompile(m);
  EXPECT_EQ(findChain(r, "QUASAR-I-"), nullptr);
  const Chain* c = findChain(r, "QUASAR-E-");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->rules.size(), 1u);
  // After the fast path and the marks' clearing, x's branch.
  EXPECT_THAT(joined(r.chains[1].rules[2]), HasSubstr(" src -g QUASAR-NE-"));
  EXPECT_THAT(joined(findChain(r, "QUASAR-NE-")->rules[0]), HasSubstr(" src -j " + c->name));
}

TEST(Compiler, PeersAreOredAndSelectorsInOnePeerAnded) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "p", sel({{"pod", "a"}}));
  Peer and_peer{sel({{"pod", "b"}}), sel({{"ns", "y"}}), std::nullopt, std::nullopt};
  p.ingress.push_back({{and_peer, podPeer(sel({{"pod", "c"}}))}, {}});
  m.policies.push_back(p);
  Ruleset r = mustCompile(m);
  const Chain* c = findChain(r, "QUASAR-I-");
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->rules.size(), 3u);  // isolate + one rule per peer
  auto setOf = [&](const ChainRule& rule) { return findSet(r, rule.args[3]); };
  ASSERT_NE(setOf(c->rules[1]), nullptr);
  EXPECT_THAT(texts(*setOf(c->rules[1])), ::testing::ElementsAre("10.1.1.2"));  // y/b only
  EXPECT_THAT(texts(*setOf(c->rules[2])), ::testing::ElementsAre("10.1.0.3"));  // x/c
}

TEST(Compiler, ExceptNeverRemovesWhatAnotherPeerAllows) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "p", {});
  p.ingress.push_back({{blockPeer("10.1.0.0/16", {"10.1.1.0/24"}), blockPeer("10.1.1.0/24")}, {}});
  m.policies.push_back(p);
  Ruleset r = mustCompile(m);
  const Chain* c = findChain(r, "QUASAR-I-");
  ASSERT_EQ(c->rules.size(), 3u);
  const IpSet* first = findSet(r, c->rules[1].args[3]);
  const IpSet* second = findSet(r, c->rules[2].args[3]);
  ASSERT_TRUE(first && second);
  EXPECT_NE(first->name, second->name);
  EXPECT_EQ(first->type, SetType::kHashNet);
  EXPECT_THAT(texts(*first), ::testing::ElementsAre("10.1.0.0/16", "10.1.1.0/24 nomatch"));
  EXPECT_THAT(texts(*second), ::testing::ElementsAre("10.1.1.0/24"));
}

TEST(Compiler, WholeAddressSpaceIsSplitForHashNet) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "p", {});
  p.policy_types = {Direction::kEgress};
  p.egress.push_back({{blockPeer("0.0.0.0/0", {"10.0.0.0/8"})}, {}});
  m.policies.push_back(p);
  Ruleset r = mustCompile(m);
  const Chain* c = findChain(r, "QUASAR-E-");
  EXPECT_THAT(texts(*findSet(r, c->rules[1].args[3])),
              ::testing::ElementsAre("0.0.0.0/1", "10.0.0.0/8 nomatch", "128.0.0.0/1"));
}

TEST(Compiler, WholeIpv6SpaceIsSplitForHashNet) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "p", {});
  p.ingress.push_back({{blockPeer("::/0")}, {}});
  m.policies.push_back(p);
  auto r = compile(m, {conf::Family::kV6, ""});
  ASSERT_TRUE(r.ok());
  const Chain* c = findChain(*r, "QUASAR-I-");
  EXPECT_THAT(texts(*findSet(*r, c->rules[1].args[3])), ::testing::ElementsAre("8000::/1", "::/1"));
}

TEST(Compiler, NamedPortsResolvePerDestinationPod) {
  Model m = e2eCluster();
  m.pods[0].ports = {{"http", 8080, Protocol::kTcp}};  // x/a
  m.pods[1].ports = {{"http", 9090, Protocol::kTcp}};  // x/b
  Policy p = testing::policy("x", "p", {});
  p.ingress.push_back({{}, {testing::named("http")}});
  m.policies.push_back(p);
  Ruleset r = mustCompile(m);
  const Chain* c = findChain(r, "QUASAR-I-");
  ASSERT_EQ(c->rules.size(), 2u);
  EXPECT_THAT(joined(c->rules[1]), HasSubstr("-p tcp -m set --match-set QSR-"));
  const IpSet* s = findSet(r, c->rules[1].args[5]);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->type, SetType::kHashIpPort);
  EXPECT_THAT(texts(*s), ::testing::ElementsAre("10.1.0.1,tcp:8080", "10.1.0.2,tcp:9090"));
}

TEST(Compiler, PortListsUseMultiportAndEndPortRanges) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "p", {});
  PortSpec range = tcp(8000);
  range.end_port = 8100;
  p.ingress.push_back({{},
                       {tcp(80), tcp(443), range, PortSpec{Protocol::kUdp, 53, "", {}},
                        PortSpec{Protocol::kSctp, std::nullopt, "", {}}}});
  m.policies.push_back(p);
  Ruleset r = mustCompile(m);
  const Chain* c = findChain(r, "QUASAR-I-");
  std::vector<std::string> rules;
  for (const auto& rule : c->rules) rules.push_back(joined(rule));
  EXPECT_THAT(rules, ::testing::Contains("-p tcp -m multiport --dports 80,443,8000:8100 -j MARK "
                                         "--set-xmark 0x10000/0x10000"));
  EXPECT_THAT(rules, ::testing::Contains("-p udp --dport 53 -j MARK --set-xmark 0x10000/0x10000"));
  EXPECT_THAT(rules, ::testing::Contains("-p sctp -j MARK --set-xmark 0x10000/0x10000"));
}

TEST(Compiler, MultiportTakesAtMostFifteenSlots) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "p", {});
  Rule rule;
  for (int i = 0; i < 20; ++i) rule.ports.push_back(tcp(1000 + i));
  p.ingress.push_back(rule);
  m.policies.push_back(p);
  Ruleset r = mustCompile(m);
  const Chain* c = findChain(r, "QUASAR-I-");
  ASSERT_EQ(c->rules.size(), 3u);
  EXPECT_THAT(joined(c->rules[2]), HasSubstr("--dports 1015,1016,1017,1018,1019 "));
}

TEST(Compiler, EqualSelectorsShareOneSet) {
  Model m = e2eCluster();
  SelectorRequirement in_b{"pod", SelectorOp::kIn, {"b"}};
  Policy p1 = testing::policy("x", "p1", sel({{"pod", "a"}}));
  p1.ingress.push_back({{podPeer(sel({{"pod", "b"}}))}, {}});
  Policy p2 = testing::policy("x", "p2", sel({}, {{"pod", SelectorOp::kIn, {"a"}}}));
  p2.ingress.push_back({{podPeer(sel({}, {in_b}))}, {}});
  m.policies = {p1, p2};
  Ruleset r = mustCompile(m);
  // node, targets (x, pod=a), peers (x, pod=b), the isolated pods (all, x's)
  EXPECT_EQ(r.sets.size(), 5u);
  // A peer in another namespace is another set.
  Policy p3 = testing::policy("y", "p3", sel({{"pod", "a"}}));
  m.policies.push_back(p3);
  EXPECT_EQ(mustCompile(m).sets.size(), 7u);  // and y's isolated pods
}

Model manyPods(int n) {
  Model m;
  m.nodes = {{"n1", {}, {testing::ip("172.16.0.1")}}};
  m.namespaces = {{"x", {{"ns", "x"}}}, {"y", {{"ns", "y"}}}};
  for (int i = 0; i < n; ++i) {
    m.pods.push_back(testing::pod(
        i % 2 ? "x" : "y", absl::StrCat("p", i), absl::StrCat("10.2.", i / 250, ".", i % 250 + 1),
        {{"app", i % 3 ? "web" : "db"}}, "n1", {{"http", 8000 + i % 7, Protocol::kTcp}}));
  }
  Policy p = testing::policy("x", "web", sel({{"app", "web"}}));
  p.ingress.push_back({{nsPeer(sel({{"ns", "y"}})), podPeer(sel({{"app", "db"}}))},
                       {tcp(80), testing::named("http")}});
  p.egress.push_back({{blockPeer("10.0.0.0/8", {"10.3.0.0/16"})}, {tcp(5432)}});
  m.policies.push_back(p);
  return m;
}

TEST(Compiler, RuleCountDoesNotDependOnPods) {
  Ruleset one = mustCompile(manyPods(1));
  Ruleset many = mustCompile(manyPods(1000));
  EXPECT_EQ(ruleCount(one), ruleCount(many));
  EXPECT_EQ(renderIptables(one).size(), renderIptables(many).size());
  size_t members_one = 0, members_many = 0;
  for (const auto& s : one.sets) members_one += s.entries.size();
  for (const auto& s : many.sets) members_many += s.entries.size();
  EXPECT_GT(members_many, members_one + 900);
}

TEST(Compiler, OutputDoesNotDependOnPolicyOrder) {
  Model m = manyPods(10);
  Policy q = testing::policy("y", "other", {});
  m.policies.push_back(q);
  Model reversed = m;
  std::reverse(reversed.policies.begin(), reversed.policies.end());
  EXPECT_EQ(renderIptables(mustCompile(m)), renderIptables(mustCompile(reversed)));
  EXPECT_EQ(renderIpsets(mustCompile(m)), renderIpsets(mustCompile(reversed)));
}

TEST(Compiler, NamesAreShortHashes) {
  Ruleset r = mustCompile(manyPods(10));
  for (const auto& c : r.chains) EXPECT_LE(c.name.size(), 28u) << c.name;
  for (const auto& s : r.sets) {
    EXPECT_EQ(s.name.size(), 20u);
    EXPECT_EQ(s.name.rfind("QSR-", 0), 0u);
  }
}

TEST(Compiler, HostileStringsNeverReachTheOutput) {
  const std::vector<std::string> hostile = {"a b",        "q\"uote", "it's",          "new\nline",
                                            ";$(reboot)", "`id`",    "--jump ACCEPT", "x\\y"};
  Model m;
  m.nodes = {{hostile[3], {{hostile[4], hostile[5]}}, {testing::ip("172.16.0.1")}}};
  m.namespaces = {{hostile[0], {{hostile[1], hostile[2]}}}};
  m.pods = {testing::pod(hostile[0], hostile[4], "10.1.0.1", {{hostile[6], hostile[7]}}, hostile[3],
                         {{hostile[5], 80, Protocol::kTcp}})};
  for (size_t i = 0; i < hostile.size(); ++i) {
    Policy p = testing::policy(hostile[i], hostile[(i + 1) % hostile.size()],
                               sel({{hostile[i], hostile[(i + 2) % hostile.size()]}}));
    p.node_selector =
        sel({}, {{hostile[i], SelectorOp::kNotIn, {hostile[(i + 3) % hostile.size()]}}});
    p.ingress.push_back({{Peer{sel({{hostile[i], hostile[i]}}), sel({{hostile[i], ""}}),
                               sel({{hostile[i], "v"}}), std::nullopt}},
                         {testing::named(hostile[i])}});
    p.egress.push_back({{}, {testing::named(hostile[i], Protocol::kUdp)}});
    m.policies.push_back(p);
  }
  Ruleset r = mustCompile(m, hostile[3]);
  std::string text = renderIptables(r) + renderIpsets(r);
  for (const auto& h : hostile) EXPECT_THAT(text, Not(HasSubstr(h))) << h;
  for (char bad : std::string("\"'`$;()\\")) EXPECT_EQ(text.find(bad), std::string::npos) << bad;
  // Every line is one command: no user newline split one.
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    EXPECT_TRUE(line.empty() || line[0] == '*' || line[0] == ':' || line.substr(0, 3) == "-A " ||
                line == "COMMIT" || line.substr(0, 4) == "add " || line.substr(0, 7) == "create " ||
                line.substr(0, 6) == "flush ")
        << line;
  }
}

TEST(Compiler, RejectsWhatTheApiRejects) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "p", {});
  PortSpec bad = tcp(90);
  bad.end_port = 80;
  p.ingress.push_back({{}, {bad}});
  m.policies = {p};
  EXPECT_EQ(compile(m, {}).status().code(), absl::StatusCode::kInvalidArgument);
  p.ingress = {{{blockPeer("10.0.0.0/16", {"10.1.0.0/24"})}, {}}};
  m.policies = {p};
  EXPECT_EQ(compile(m, {}).status().code(), absl::StatusCode::kInvalidArgument);
  p.ingress = {{{}, {tcp(70000)}}};
  m.policies = {p};
  EXPECT_EQ(compile(m, {}).status().code(), absl::StatusCode::kInvalidArgument);
  p.ingress = {};
  m.policies = {p, p};
  EXPECT_EQ(compile(m, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Compiler, OtherFamilyIsLeftOut) {
  Model m = e2eCluster();
  m.pods[0].ips.push_back(testing::ip("fd00::1"));
  Policy p = testing::policy("x", "p", {});
  p.ingress.push_back({{blockPeer("fd00::/64")}, {}});
  m.policies = {p};
  auto v6 = compile(m, {conf::Family::kV6, "n1"});
  ASSERT_TRUE(v6.ok());
  const Chain* c = findChain(*v6, "QUASAR-I-");
  ASSERT_EQ(c->rules.size(), 2u);
  Ruleset v4 = mustCompile(m);
  EXPECT_EQ(findChain(v4, "QUASAR-I-")->rules.size(), 1u);  // the v6 block allows no v4 peer
  EXPECT_THAT(renderIpsets(*v6), HasSubstr("family inet6"));
  EXPECT_THAT(renderIpsets(*v6), HasSubstr("add QSR-"));
}

// Golden: names are part of the installed state, so a change of the hash or of the canonical
// texts would replace every set and chain on upgrade. Change this only on purpose.
TEST(Compiler, GoldenOutput) {
  Model m = e2eCluster();
  Policy p = testing::policy("x", "allow-b", sel({{"pod", "a"}}));
  p.ingress.push_back({{podPeer(sel({{"pod", "b"}}))}, {tcp(80), tcp(81)}});
  m.policies.push_back(p);
  Ruleset r = mustCompile(m);
  EXPECT_EQ(renderIptables(r), R"(*filter
:QUASAR-FORWARD - [0:0]
:QUASAR-EGRESS - [0:0]
:QUASAR-INGRESS - [0:0]
:QUASAR-INPUT - [0:0]
:QUASAR-I-6a3fdd63218b1b80 - [0:0]
:QUASAR-NI-42e4075ca2ab5b3a - [0:0]
-A QUASAR-FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A QUASAR-FORWARD -j QUASAR-EGRESS
-A QUASAR-FORWARD -j QUASAR-INGRESS
-A QUASAR-EGRESS -j MARK --set-xmark 0x0/0x30000
-A QUASAR-EGRESS -p tcp -m mark --mark 0x20000/0x30000 -j REJECT --reject-with tcp-reset
-A QUASAR-EGRESS -m mark --mark 0x20000/0x30000 -j REJECT --reject-with icmp-admin-prohibited
-A QUASAR-INGRESS -m set --match-set QSR-f2404f5e2aa80a12 src -j RETURN
-A QUASAR-INGRESS -m set ! --match-set QSR-c84323ec40b8404b dst -j RETURN
-A QUASAR-INGRESS -j MARK --set-xmark 0x0/0x30000
-A QUASAR-INGRESS -m set --match-set QSR-422eb3fd8e52092d dst -g QUASAR-NI-42e4075ca2ab5b3a
-A QUASAR-INGRESS -p tcp -m mark --mark 0x20000/0x30000 -j REJECT --reject-with tcp-reset
-A QUASAR-INGRESS -m mark --mark 0x20000/0x30000 -j REJECT --reject-with icmp-admin-prohibited
-A QUASAR-INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
-A QUASAR-INPUT -j QUASAR-EGRESS
-A QUASAR-I-6a3fdd63218b1b80 -j MARK --set-xmark 0x20000/0x20000
-A QUASAR-I-6a3fdd63218b1b80 -m set --match-set QSR-b69521aaff335cbd src -p tcp -m multiport --dports 80,81 -j MARK --set-xmark 0x10000/0x10000
-A QUASAR-NI-42e4075ca2ab5b3a -m set --match-set QSR-292d0e69892a78b6 dst -j QUASAR-I-6a3fdd63218b1b80
-A QUASAR-NI-42e4075ca2ab5b3a -p tcp -m mark --mark 0x20000/0x30000 -j REJECT --reject-with tcp-reset
-A QUASAR-NI-42e4075ca2ab5b3a -m mark --mark 0x20000/0x30000 -j REJECT --reject-with icmp-admin-prohibited
COMMIT
)");
  EXPECT_EQ(renderIpsets(r), R"(create QSR-292d0e69892a78b6 hash:ip family inet -exist
flush QSR-292d0e69892a78b6
add QSR-292d0e69892a78b6 10.1.0.1
create QSR-422eb3fd8e52092d hash:ip family inet -exist
flush QSR-422eb3fd8e52092d
add QSR-422eb3fd8e52092d 10.1.0.1
create QSR-b69521aaff335cbd hash:ip family inet -exist
flush QSR-b69521aaff335cbd
add QSR-b69521aaff335cbd 10.1.0.2
create QSR-c84323ec40b8404b hash:ip family inet -exist
flush QSR-c84323ec40b8404b
add QSR-c84323ec40b8404b 10.1.0.1
create QSR-f2404f5e2aa80a12 hash:ip family inet -exist
flush QSR-f2404f5e2aa80a12
add QSR-f2404f5e2aa80a12 172.16.0.1
)");
}

// Kubernetes' and quasar's kind may each have a policy of one name in a namespace.
TEST(Compiler, KindsKeepSameNamedPoliciesApart) {
  Model m = e2eCluster();
  m.policies.push_back(testing::policy("x", "deny", {}));
  Policy q = testing::policy("x", "deny", {});
  q.kind = kQuasarPolicyKind;
  m.policies.push_back(q);
  Ruleset r = mustCompile(m);
  int chains = 0;
  for (const auto& c : r.chains) chains += c.name.rfind("QUASAR-I-", 0) == 0;
  EXPECT_EQ(chains, 2);
  m.policies.push_back(q);
  EXPECT_FALSE(compile(m, {}).ok());
}

TEST(Compiler, RenderedRestoreInput) {
  Model m = e2eCluster();
  m.policies.push_back(testing::policy("x", "deny", {}));
  std::string text = renderIptables(mustCompile(m));
  EXPECT_EQ(text.rfind("*filter\n:QUASAR-FORWARD - [0:0]\n:QUASAR-EGRESS - [0:0]\n", 0), 0u);
  EXPECT_THAT(text, HasSubstr("-A QUASAR-FORWARD -j QUASAR-EGRESS\n"));
  EXPECT_THAT(text, HasSubstr("\n:QUASAR-I-"));
  EXPECT_EQ(text.substr(text.size() - 7), "COMMIT\n");
}

}  // namespace
}  // namespace quasar::netpolicy
