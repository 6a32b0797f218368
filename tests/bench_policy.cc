#include "tests/bench_policy.h"

#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "netpolicy/compiler/compiler.h"
#include "netpolicy/compiler/membership.h"
#include "netpolicy/compiler/render.h"
#include "netpolicy/compiler/test_model.h"
#include "netpolicy/iptables_restore.h"
#include "netpolicy/kernel/applier.h"
#include "netpolicy/kernel/linux_policy_kernel.h"

namespace quasar::bench {
namespace {

namespace np = quasar::netpolicy;
namespace t = quasar::netpolicy::testing;
using Clock = std::chrono::steady_clock;
using conf::Family;

constexpr char kNode[] = "n1";

double msSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// A fresh, empty network namespace for the calling thread (the previous one, when it was also
// ours, goes with its last user).
absl::Status enterFreshNetns() {
  if (::unshare(CLONE_NEWNET) != 0) {
    const int err = errno;
    return absl::InternalError(absl::StrCat("unshare(CLONE_NEWNET): ", strerror(err)));
  }
  return absl::OkStatus();
}

np::Model shape(int pods, int policies) {
  np::Model m = t::benchShape(pods);
  if (policies < static_cast<int>(m.policies.size())) m.policies.resize(policies);
  return m;
}

absl::StatusOr<KernelCounts> countKernel(np::PolicyKernel& kernel) {
  KernelCounts c;
  auto filter = kernel.readFilter(Family::kV4);
  if (!filter.ok()) return filter.status();
  for (const auto& [name, rules] : filter->chains) c.rules += rules.size();
  for (const auto& [chain, n] : filter->hooks) c.hooks += n;
  auto sets = kernel.listSets();
  if (!sets.ok()) return sets.status();
  c.sets = sets->size();
  for (const auto& s : *sets) c.members += s.members;
  return c;
}

// What quasard's policy agent does on a full sync (daemon/agents/policy_agent.cc syncAll):
// compile with the pod-set definitions, Membership from them, apply.
struct Compiled {
  np::Ruleset ruleset;
  std::optional<np::Membership> membership;
};

absl::StatusOr<Compiled> compileForAgent(const np::Model& m) {
  std::vector<np::PodSetDefinition> definitions;
  auto r = np::compile(m, {Family::kV4, kNode}, &definitions);
  if (!r.ok()) return r.status();
  Compiled c{std::move(*r), std::nullopt};
  c.membership = np::Membership::fromCompile(m, {Family::kV4, kNode}, std::move(definitions));
  return c;
}

// One full sync in a fresh namespace: compile + first apply, then the kernel's counts.
absl::Status oursOnce(const np::Model& m, FullSyncResult& out) {
  if (auto s = enterFreshNetns(); !s.ok()) return s;
  np::LinuxPolicyKernel kernel;
  np::Applier applier(kernel);
  const auto t0 = Clock::now();
  auto compiled = compileForAgent(m);
  if (!compiled.ok()) return compiled.status();
  const double compile_ms = msSince(t0);
  const auto t1 = Clock::now();
  auto applied = applier.apply({compiled->ruleset});
  if (!applied.ok()) return applied.status();
  const double apply_ms = msSince(t1);
  out.compile_ms.push_back(compile_ms);
  out.apply_ms.push_back(apply_ms);
  out.total_ms.push_back(compile_ms + apply_ms);
  auto counts = countKernel(kernel);
  if (!counts.ok()) return counts.status();
  out.ours = *counts;
  return applier.removeAll();
}

// The floor once in a fresh namespace: the tools load the files.
absl::Status floorOnce(const std::string& sets_file, const std::string& rules_file,
                       FullSyncResult& out) {
  if (auto s = enterFreshNetns(); !s.ok()) return s;
  const auto t0 = Clock::now();
  if (auto s = np::runCommand({"ipset", "restore", "-f", sets_file}, ""); !s.ok()) return s;
  const double sets_ms = msSince(t0);
  const auto t1 = Clock::now();
  // "--wait=N FILE": a bare "-w FILE" takes FILE for -w's optional argument and reads stdin.
  if (auto s = np::runCommand({"iptables-restore", "--noflush", "--wait=60", rules_file}, "");
      !s.ok()) {
    return s;
  }
  const double rules_ms = msSince(t1);
  out.floor_sets_ms.push_back(sets_ms);
  out.floor_rules_ms.push_back(rules_ms);
  out.floor_ms.push_back(sets_ms + rules_ms);
  np::LinuxPolicyKernel kernel;
  auto counts = countKernel(kernel);
  if (!counts.ok()) return counts.status();
  out.floor = *counts;
  return np::Applier(kernel).removeAll();
}

absl::Status writeFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  f.close();
  if (!f) return absl::InternalError("cannot write " + path);
  return absl::OkStatus();
}

absl::StatusOr<FullSyncResult> fullSyncs(int pods, const PolicyBenchOptions& o,
                                         const std::string& dir) {
  FullSyncResult out;
  out.pods = pods;
  const np::Model m = shape(pods, o.policies);
  auto r = np::compile(m, {Family::kV4, kNode});
  if (!r.ok()) return r.status();
  // The same final state as the applier's: sets, chains, and the two hooks at the top.
  std::string rules = np::renderIptables(*r);
  rules.insert(rules.rfind("COMMIT\n"), absl::StrCat("-I FORWARD 1 -j ", np::kForwardChain,
                                                     "\n-I INPUT 1 -j ", np::kInputChain, "\n"));
  const std::string sets_file = absl::StrCat(dir, "/sets-", pods, ".txt");
  const std::string rules_file = absl::StrCat(dir, "/rules-", pods, ".txt");
  if (auto s = writeFile(sets_file, np::renderIpsets(*r)); !s.ok()) return s;
  if (auto s = writeFile(rules_file, rules); !s.ok()) return s;
  // Interleaved, the order alternating: ours first in even rounds, the floor first in odd ones.
  for (int round = 0; round < o.rounds; ++round) {
    for (int j = 0; j < 2; ++j) {
      const bool ours = (round % 2 == 0) == (j == 0);
      auto s = ours ? oursOnce(m, out) : floorOnce(sets_file, rules_file, out);
      if (!s.ok()) return s;
    }
  }
  if (out.ours.rules != out.floor.rules || out.ours.sets != out.floor.sets ||
      out.ours.members != out.floor.members || out.ours.hooks != out.floor.hooks) {
    return absl::InternalError(absl::StrCat(
        "the floor's state differs from ours: rules ", out.floor.rules, " vs ", out.ours.rules,
        ", sets ", out.floor.sets, " vs ", out.ours.sets, ", members ", out.floor.members, " vs ",
        out.ours.members, ", hooks ", out.floor.hooks, " vs ", out.ours.hooks));
  }
  return out;
}

// The sets a pod event can touch hold, in the kernel, what the patched ruleset says.
absl::Status checkKernelSets(np::PolicyKernel& kernel, const np::Ruleset& ruleset,
                             const np::Membership& membership) {
  for (const auto& d : membership.definitions()) {
    auto it = std::find_if(ruleset.sets.begin(), ruleset.sets.end(),
                           [&](const np::IpSet& s) { return s.name == d.set; });
    if (it == ruleset.sets.end()) return absl::InternalError("no set " + d.set);
    auto got = kernel.readSet(d.set);
    if (!got.ok()) return got.status();
    if (std::set<np::SetEntry>(got->begin(), got->end()) != it->entries) {
      return absl::InternalError(absl::StrCat("set ", d.set, ": the kernel holds ", got->size(),
                                              " entries, the ruleset ", it->entries.size()));
    }
  }
  return absl::OkStatus();
}

ChangeResult named(std::string what) {
  ChangeResult r;
  r.what = std::move(what);
  return r;
}

// Pod events, then policy changes, at `pods` pods in one namespace.
absl::Status changes(int pods, const PolicyBenchOptions& o, PolicyBenchReport& report) {
  if (auto s = enterFreshNetns(); !s.ok()) return s;
  np::Model m = shape(pods, o.policies);
  np::LinuxPolicyKernel kernel;
  np::Applier applier(kernel);
  auto compiled = compileForAgent(m);
  if (!compiled.ok()) return compiled.status();
  if (auto a = applier.apply({compiled->ruleset}); !a.ok()) return a.status();
  absl::Cleanup remove = [&] { (void)applier.removeAll(); };

  ChangeResult added = named("pod added"), relabelled = named("pod relabelled"),
               deleted = named("pod deleted");
  auto event = [&](const np::Pod* old_pod, const np::Pod* new_pod,
                   ChangeResult& into) -> absl::Status {
    const auto t0 = Clock::now();
    auto delta = compiled->membership->applyPodChange(old_pod, new_pod, &compiled->ruleset);
    if (!delta.ok()) return delta.status();
    auto applied = applier.changeMembers(Family::kV4, *delta);
    if (!applied.ok()) return applied.status();
    const double ms = msSince(t0);
    if (delta->empty()) return absl::InternalError("a pod event changed no set: " + into.what);
    into.compile_ms.push_back(0);
    into.apply_ms.push_back(ms);
    into.total_ms.push_back(ms);
    return absl::OkStatus();
  };
  const int with_policies = std::min({o.policies, 100, pods});
  for (int i = 0; i < o.events; ++i) {
    // Added: a new pod in a namespace with policies, labelled so that some select it.
    // (benchShape: namespace n has policies when n < policies, all selecting app<n % 50>.)
    const int ns = i % with_policies;
    const np::Pod fresh = t::pod(absl::StrCat("ns", ns), absl::StrCat("ev", i),
                                 absl::StrCat("10.30.", i / 256 % 256, ".", i % 256),
                                 {{"app", absl::StrCat("app", ns % 50)}}, kNode,
                                 {{"http", 8080, np::Protocol::kTcp}});
    if (auto s = event(nullptr, &fresh, added); !s.ok()) return s;
    // Relabelled: an existing pod moves to another app, leaving its sets for others.
    // Pod j is in namespace j % 100 with app<j % 50>: a target of its namespace's policies.
    // Relabelled away from that app, or back to it when an earlier event moved it.
    const int j = (i * 37) % std::max(1, pods / 100) * 100 + i % with_policies;
    np::Pod& victim = m.pods.at(j);
    np::Pod relabel = victim;
    const std::string home = absl::StrCat("app", j % 50);
    relabel.labels["app"] = victim.labels["app"] == home ? "moved" : home;
    if (auto s = event(&victim, &relabel, relabelled); !s.ok()) return s;
    victim = relabel;
    // Deleted: the pod added above.
    if (auto s = event(&fresh, nullptr, deleted); !s.ok()) return s;
  }
  if (auto s = checkKernelSets(kernel, compiled->ruleset, *compiled->membership); !s.ok()) {
    return s;
  }
  report.pod_events = {added, relabelled, deleted};

  ChangeResult padd = named("policy added"), pmod = named("policy modified"),
               pdel = named("policy deleted");
  auto change = [&](ChangeResult& into) -> absl::Status {
    const auto t0 = Clock::now();
    auto c = compileForAgent(m);
    if (!c.ok()) return c.status();
    const double compile_ms = msSince(t0);
    const auto t1 = Clock::now();
    auto applied = applier.apply({c->ruleset});
    if (!applied.ok()) return applied.status();
    const double apply_ms = msSince(t1);
    if (!applied->changed()) return absl::InternalError("a policy change changed nothing");
    into.compile_ms.push_back(compile_ms);
    into.apply_ms.push_back(apply_ms);
    into.total_ms.push_back(compile_ms + apply_ms);
    compiled = std::move(c);
    return absl::OkStatus();
  };
  for (int k = 0; k < o.policy_changes; ++k) {
    np::Policy p = t::policy(absl::StrCat("ns", k % 100), absl::StrCat("bench-new", k),
                             t::sel({{"app", absl::StrCat("app", k % 50)}}));
    p.ingress.push_back(
        {{t::podPeer(t::sel({{"app", absl::StrCat("app", (k + 3) % 50)}}))}, {t::tcp(8000 + k)}});
    m.policies.push_back(p);
    if (auto s = change(padd); !s.ok()) return s;
    np::Policy& old = m.policies[(k * 13) % (m.policies.size() - 1)];
    old.ingress.at(0).ports.at(0) = t::tcp(9000 + k);
    if (auto s = change(pmod); !s.ok()) return s;
    m.policies.pop_back();
    if (auto s = change(pdel); !s.ok()) return s;
  }
  auto counts = countKernel(kernel);
  if (!counts.ok()) return counts.status();
  size_t rules = 0;
  for (const auto& c : compiled->ruleset.chains) rules += c.rules.size();
  if (counts->rules != rules) {
    return absl::InternalError(absl::StrCat("after the policy changes the kernel has ",
                                            counts->rules, " rules, the ruleset ", rules));
  }
  report.policy_changes = {padd, pmod, pdel};
  report.event_pods = pods;
  std::move(remove).Invoke();
  return absl::OkStatus();
}

}  // namespace

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t idx = std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5));
  return v[idx];
}

absl::StatusOr<PolicyBenchReport> runPolicyBench(const PolicyBenchOptions& o) {
  if (o.pod_counts.empty() || o.rounds < 1 || o.policies < 1) {
    return absl::InvalidArgumentError("need pod counts, rounds >= 1 and policies >= 1");
  }
  char tmpl[] = "/tmp/quasar-bench-policy-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    const int err = errno;
    return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(err)));
  }
  const std::string dir = tmpl;
  absl::Cleanup rm = [&] { (void)np::runCommand({"rm", "-rf", dir}, ""); };
  PolicyBenchReport report;
  report.policies = o.policies;
  for (int pods : o.pod_counts) {
    auto r = fullSyncs(pods, o, dir);
    if (!r.ok()) return r.status();
    report.syncs.push_back(std::move(*r));
  }
  const int largest = *std::max_element(o.pod_counts.begin(), o.pod_counts.end());
  if (auto s = changes(largest, o, report); !s.ok()) return s;
  return report;
}

}  // namespace quasar::bench
