#include "netpolicy/kernel/applier.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "netpolicy/kernel/filter_edit.h"
#include "netpolicy/kernel/kernel_text.h"

namespace quasar::netpolicy {
namespace {

constexpr conf::Family kFamilies[] = {conf::Family::kV4, conf::Family::kV6};

struct AppliedSet {
  SetType type = SetType::kHashIp;
  std::set<SetEntry> entries;  // in the kernel's text form (kernelEntry)
};

struct AppliedChain {
  RuleTokens rules;
  // False: found in the kernel, its rules unknown, so it is rewritten by the next apply().
  bool known = false;
  // The chain as iptables-save printed it: what repair() compares. Not read right after a write
  // (reading the whole table back cost as much as the write); the first repair() adopts what
  // the kernel shows when it has the written number of rules, else rewrites the chain.
  std::vector<std::string> kernel_text;
  bool text_known = false;
};

RuleTokens tokensOf(const Chain& chain) {
  RuleTokens out;
  for (const auto& r : chain.rules) out.push_back(r.args);
  return out;
}

// Only hash:net text changes in the kernel's form (and so its order).
std::set<SetEntry> kernelEntries(const IpSet& set) {
  if (set.type != SetType::kHashNet) return set.entries;
  std::set<SetEntry> out;
  for (const auto& e : set.entries) out.insert(kernelEntry(set.type, e));
  return out;
}

// The ops turning `have` into `want` for one set: adds before dels, so an address that moves
// between entries is never missing; an entry whose nomatch flag flips is deleted first.
void diffEntries(const std::string& set, const std::set<SetEntry>& have,
                 const std::set<SetEntry>& want, std::vector<SetOp>& ops, ApplyStats& stats) {
  std::vector<SetEntry> added, removed;
  std::set_difference(want.begin(), want.end(), have.begin(), have.end(),
                      std::back_inserter(added));
  std::set_difference(have.begin(), have.end(), want.begin(), want.end(),
                      std::back_inserter(removed));
  std::set<std::string> added_texts;
  for (const auto& e : added) added_texts.insert(e.text);
  std::vector<SetOp> dels;
  for (const auto& e : removed) {
    SetOp op{SetOp::Kind::kDel, set, {}, {}, e};
    if (added_texts.count(e.text)) {
      ops.push_back(op);
    } else {
      dels.push_back(op);
    }
  }
  for (const auto& e : added) ops.push_back({SetOp::Kind::kAdd, set, {}, {}, e});
  ops.insert(ops.end(), dels.begin(), dels.end());
  stats.members_added += static_cast<int>(added.size());
  stats.members_removed += static_cast<int>(removed.size());
}

void createSet(const std::string& name, SetType type, conf::Family family,
               const std::set<SetEntry>& entries, std::vector<SetOp>& ops, ApplyStats& stats) {
  ops.push_back({SetOp::Kind::kCreate, name, type, family, {}});
  ++stats.sets_created;
  for (const auto& e : entries) ops.push_back({SetOp::Kind::kAdd, name, {}, {}, e});
  stats.members_added += static_cast<int>(entries.size());
}

}  // namespace

struct Applier::State {
  struct Family {
    std::map<std::string, AppliedSet> sets;
    std::map<std::string, AppliedChain> chains;
    std::map<std::string, int> hooks;  // as the kernel had them after our last write
  };
  // Memory equals the kernel as far as we know. False at start and after any failure: the next
  // apply() reads the kernel instead.
  bool trusted = false;
  // apply() was called (repair() has something to repair).
  bool applied = false;
  // The filter generation at which the chains and hooks in memory are known to be the
  // kernel's: read just before the last read of the filter table, or just after our own last
  // write when no one else wrote between the two. nullopt: not known (the next quickRepair()
  // reads the table). A change made while the table was being read moves the generation past
  // this value, so it is seen next time.
  std::optional<uint64_t> generation;
  // The last filterGeneration() call succeeded.
  bool generation_supported = false;
  std::vector<Ruleset> last_desired;
  std::map<conf::Family, Family> families;
};

Applier::Applier(PolicyKernel& kernel) : kernel_(kernel), state_(std::make_unique<State>()) {}
Applier::~Applier() = default;

namespace {

// A family's filter table that cannot be read, for a family nothing is desired for: its tools are
// missing, or it is IPv6 on a node with IPv6 disabled. Nothing of ours can be there to remove.
bool ignorable(conf::Family family, const absl::Status& s) {
  return absl::IsUnavailable(s) || family == conf::Family::kV6;
}

const Ruleset* rulesetFor(const std::vector<Ruleset>& desired, conf::Family family) {
  for (const auto& r : desired) {
    if (r.family == family) return &r;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<ApplyStats> Applier::apply(const std::vector<Ruleset>& desired) {
  for (size_t i = 0; i < desired.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (desired[i].family == desired[j].family) {
        return absl::InvalidArgumentError("apply: two Rulesets for one address family");
      }
    }
  }
  state_->applied = true;
  state_->last_desired = desired;
  ApplyStats stats;
  absl::Status s = applyDesired(desired, stats);
  if (!s.ok()) {
    distrust();
    return s;
  }
  state_->trusted = true;
  return stats;
}

void Applier::distrust() {
  state_->trusted = false;
  state_->generation.reset();
}

std::optional<uint64_t> Applier::readGeneration() {
  auto gen = kernel_.filterGeneration();
  state_->generation_supported = gen.ok();
  if (!gen.ok()) return std::nullopt;
  return *gen;
}

bool Applier::watchesGeneration() const { return state_->generation_supported; }

absl::Status Applier::applyDesired(const std::vector<Ruleset>& desired, ApplyStats& stats) {
  if (!state_->trusted) {
    if (auto s = loadFromKernel(desired, stats); !s.ok()) return s;
  }
  // 1. Sets: created and filled before any rule can reference them.
  std::vector<SetOp> ops;
  std::vector<std::pair<AppliedSet*, std::set<SetEntry>>> changed;
  for (const Ruleset& r : desired) {
    auto& fs = state_->families[r.family];
    for (const IpSet& set : r.sets) {
      auto it = fs.sets.find(set.name);
      // The common case (nothing moved) compares without copying.
      if (it != fs.sets.end() && set.type != SetType::kHashNet &&
          it->second.entries == set.entries) {
        continue;
      }
      std::set<SetEntry> want = kernelEntries(set);
      if (it == fs.sets.end()) {
        createSet(set.name, set.type, r.family, want, ops, stats);
        // (On failure memory is dropped and re-read, so adding it early is harmless.)
        it = fs.sets.emplace(set.name, AppliedSet{set.type, {}}).first;
      } else if (it->second.entries == want) {
        continue;
      } else {
        diffEntries(set.name, it->second.entries, want, ops, stats);
      }
      changed.push_back({&it->second, std::move(want)});
    }
  }
  if (!ops.empty()) {
    if (auto s = kernel_.changeSets(ops); !s.ok()) return s;
  }
  for (auto& [applied, want] : changed) {
    applied->entries = std::move(want);
  }

  // 2. Chains and hooks: one transaction per family, only what changed.
  for (conf::Family family : kFamilies) {
    const Ruleset* r = rulesetFor(desired, family);
    auto& fs = state_->families[family];
    FilterEdit edit;
    std::set<std::string> wanted;
    if (r != nullptr) {
      for (const Chain& c : r->chains) {
        wanted.insert(c.name);
        RuleTokens rules = tokensOf(c);
        auto it = fs.chains.find(c.name);
        if (it == fs.chains.end() || !it->second.known || it->second.rules != rules) {
          edit.write[c.name] = std::move(rules);
        }
        if (*hookParent(c.name) != '\0' && fs.hooks[c.name] == 0) edit.add_hooks.push_back(c.name);
      }
    }
    for (const auto& [name, chain] : fs.chains) {
      if (!wanted.count(name)) edit.remove.push_back(name);
    }
    for (const auto& [chain, count] : fs.hooks) {
      if (count > 0 && !wanted.count(chain)) edit.delete_hooks[chain] = count;
    }
    if (edit.empty()) continue;
    if (auto s = writeFilter(family, edit, stats); !s.ok()) return s;
    stats.chains_removed += static_cast<int>(edit.remove.size());
  }

  // 3. Stale sets, now that no rule references them.
  ops.clear();
  std::vector<std::pair<conf::Family, std::string>> stale;
  for (auto& [family, fs] : state_->families) {
    const Ruleset* r = rulesetFor(desired, family);
    std::set<std::string> wanted;
    if (r != nullptr) {
      for (const IpSet& set : r->sets) wanted.insert(set.name);
    }
    for (const auto& [name, set] : fs.sets) {
      if (wanted.count(name)) continue;
      ops.push_back({SetOp::Kind::kDestroy, name, {}, {}, {}});
      stale.push_back({family, name});
    }
  }
  if (!ops.empty()) {
    if (auto s = kernel_.changeSets(ops); !s.ok()) return s;
  }
  for (const auto& [family, name] : stale) state_->families[family].sets.erase(name);
  stats.sets_destroyed += static_cast<int>(stale.size());
  return absl::OkStatus();
}

absl::Status Applier::writeFilter(conf::Family family, const FilterEdit& edit, ApplyStats& stats) {
  auto& fs = state_->families[family];
  const std::optional<uint64_t> before = readGeneration();
  if (auto s = kernel_.restoreFilter(family, edit.render()); !s.ok()) return s;
  const std::optional<uint64_t> after = readGeneration();
  // Only our own transaction since memory was known to match: memory matches again. Anything
  // else (someone wrote in between, no generation) leaves the older value, which now differs
  // from the kernel's, so the next quickRepair() reads the table.
  if (state_->generation && before && after && *state_->generation == *before &&
      *after == *before + 1) {
    state_->generation = after;
  }
  ++stats.restores;
  stats.chains_written += static_cast<int>(edit.write.size());
  stats.hooks_added += static_cast<int>(edit.add_hooks.size());
  for (const auto& [name, rules] : edit.write) fs.chains[name] = {rules, true, {}, false};
  for (const auto& chain : edit.add_hooks) fs.hooks[chain] = 1;
  for (const auto& [chain, count] : edit.delete_hooks) fs.hooks[chain] = 0;
  for (const auto& name : edit.remove) fs.chains.erase(name);
  return absl::OkStatus();
}

// Reads the kernel's quasar state into memory: sets (members only of desired sets, to diff
// them), chains (content unknown, so rewritten) and hooks.
absl::Status Applier::loadFromKernel(const std::vector<Ruleset>& desired, ApplyStats& stats) {
  PolicyKernel& kernel = kernel_;
  auto& families = state_->families;
  families.clear();
  auto sets = kernel.listSets();
  if (!sets.ok()) return sets.status();
  for (const KernelSet& k : *sets) {
    auto& fs = families[k.family];
    AppliedSet& applied = fs.sets[k.name];
    applied.type = k.type;
    const Ruleset* r = rulesetFor(desired, k.family);
    bool wanted = false;
    if (r != nullptr) {
      for (const IpSet& set : r->sets)
        wanted = wanted || (set.name == k.name && set.type == k.type);
    }
    if (!wanted || k.members == 0) continue;  // a stale set is destroyed; no need to read it
    auto entries = kernel.readSet(k.name);
    if (!entries.ok()) return entries.status();
    applied.entries = {entries->begin(), entries->end()};
  }
  state_->generation = readGeneration();
  for (conf::Family family : kFamilies) {
    auto& fs = families[family];
    ++stats.filter_reads;
    auto filter = kernel.readFilter(family);
    if (!filter.ok()) {
      if (rulesetFor(desired, family) == nullptr && ignorable(family, filter.status())) continue;
      return filter.status();
    }
    for (auto& [name, text] : filter->chains) fs.chains[name] = {{}, false, std::move(text), true};
    fs.hooks = std::move(filter->hooks);
  }
  return absl::OkStatus();
}

absl::StatusOr<ApplyStats> Applier::changeMembers(conf::Family family, const PodSetDelta& delta) {
  if (!state_->trusted) return absl::FailedPreconditionError("applier state not trusted");
  auto fam = state_->families.find(family);
  Ruleset* last = nullptr;
  for (auto& r : state_->last_desired) {
    if (r.family == family) last = &r;
  }
  if (fam == state_->families.end() || last == nullptr) {
    return absl::FailedPreconditionError("no applied state for the family");
  }
  auto lastSet = [&](const std::string& name) -> IpSet* {
    auto it = std::lower_bound(last->sets.begin(), last->sets.end(), name,
                               [](const IpSet& s, const std::string& n) { return s.name < n; });
    return it != last->sets.end() && it->name == name ? &*it : nullptr;
  };
  std::vector<SetOp> ops;
  for (const auto* list : {&delta.added, &delta.removed}) {
    for (const auto& e : *list) {
      auto it = fam->second.sets.find(e.set);
      if (it == fam->second.sets.end() || it->second.type == SetType::kHashNet ||
          lastSet(e.set) == nullptr) {
        return absl::FailedPreconditionError("changeMembers: unknown pod set " + e.set);
      }
      ops.push_back(
          {list == &delta.added ? SetOp::Kind::kAdd : SetOp::Kind::kDel, e.set, {}, {}, e.entry});
    }
  }
  ApplyStats stats;
  if (ops.empty()) return stats;
  if (auto s = kernel_.changeSets(ops); !s.ok()) {
    distrust();
    return s;
  }
  auto patch = [](std::set<SetEntry>& v, const SetEntry& e, bool add) {
    if (add) {
      v.insert(e);
    } else {
      v.erase(e);
    }
  };
  for (const auto& e : delta.added) {
    patch(fam->second.sets[e.set].entries, e.entry, true);
    patch(lastSet(e.set)->entries, e.entry, true);
  }
  for (const auto& e : delta.removed) {
    patch(fam->second.sets[e.set].entries, e.entry, false);
    patch(lastSet(e.set)->entries, e.entry, false);
  }
  stats.members_added = static_cast<int>(delta.added.size());
  stats.members_removed = static_cast<int>(delta.removed.size());
  return stats;
}

absl::StatusOr<ApplyStats> Applier::quickRepair(bool full_allowed) {
  if (!state_->applied) return ApplyStats{};
  if (!state_->trusted) return repair();
  auto drifted = [&]() -> absl::StatusOr<bool> {
    auto listed = kernel_.listSets();
    if (!listed.ok()) return listed.status();
    std::map<std::string, int64_t> members;
    for (const auto& k : *listed) members[k.name] = k.members;
    for (const auto& [family, fs] : state_->families) {
      for (const auto& [name, set] : fs.sets) {
        auto it = members.find(name);
        if (it == members.end() || it->second != static_cast<int64_t>(set.entries.size())) {
          return true;
        }
      }
      if (fs.chains.empty()) continue;
      auto hooks = kernel_.readHooks(family);
      if (!hooks.ok()) return hooks.status();
      for (const auto& [name, chain] : fs.chains) {
        if (*hookParent(name) != '\0' && (*hooks)[name] == 0) return true;
      }
    }
    return false;
  }();
  if (!drifted.ok()) {
    distrust();
    return drifted.status();
  }
  if (*drifted) return repair();
  const std::optional<uint64_t> now = readGeneration();
  if (!now) return ApplyStats{};  // no generation: the chains are left to repair()
  if (!full_allowed || !chainsMayDiffer(*now)) return ApplyStats{};
  return repair();
}

bool Applier::chainsMayDiffer(uint64_t generation) const {
  return state_->generation != generation || !chainTextsKnown();
}

bool Applier::chainTextsKnown() const {
  for (const auto& [family, fs] : state_->families) {
    for (const auto& [name, chain] : fs.chains) {
      if (!chain.text_known) return false;
    }
  }
  return true;
}

bool Applier::filterChanged() {
  if (!state_->applied || !state_->trusted) return false;
  const std::optional<uint64_t> now = readGeneration();
  return now && chainsMayDiffer(*now);
}

absl::StatusOr<ApplyStats> Applier::repair() {
  if (!state_->applied) return ApplyStats{};
  if (!state_->trusted) return apply(std::vector<Ruleset>(state_->last_desired));
  ApplyStats stats;
  absl::Status s = repairDrift(stats);
  if (!s.ok()) {
    distrust();
    return s;
  }
  return stats;
}

absl::Status Applier::repairDrift(ApplyStats& stats) {
  auto listed = kernel_.listSets();
  if (!listed.ok()) return listed.status();
  std::map<std::string, const KernelSet*> in_kernel;
  for (const auto& k : *listed) in_kernel[k.name] = &k;
  std::vector<SetOp> ops;
  for (auto& [family, fs] : state_->families) {
    for (auto& [name, set] : fs.sets) {
      auto it = in_kernel.find(name);
      if (it == in_kernel.end()) {
        createSet(name, set.type, family, set.entries, ops, stats);
        continue;
      }
      // Cheap check: the count. Only a set whose count differs is read.
      if (it->second->members == static_cast<int64_t>(set.entries.size())) continue;
      auto entries = kernel_.readSet(name);
      if (!entries.ok()) return entries.status();
      diffEntries(name, {entries->begin(), entries->end()}, set.entries, ops, stats);
    }
  }
  if (!ops.empty()) {
    if (auto s = kernel_.changeSets(ops); !s.ok()) return s;
  }
  state_->generation = readGeneration();
  for (conf::Family family : kFamilies) {
    auto& fs = state_->families[family];
    if (fs.chains.empty()) continue;  // nothing of ours in this family: no iptables call
    ++stats.filter_reads;
    auto now = kernel_.readFilter(family);
    if (!now.ok()) return now.status();
    FilterEdit edit;
    for (auto& [name, chain] : fs.chains) {
      auto it = now->chains.find(name);
      if (it != now->chains.end() && !chain.text_known && chain.known &&
          it->second.size() == chain.rules.size()) {
        chain.kernel_text = it->second;  // first look since it was written
        chain.text_known = true;
      }
      if (it == now->chains.end() || !chain.text_known || it->second != chain.kernel_text)
        edit.write[name] = chain.rules;
      if (*hookParent(name) != '\0' && now->hooks[name] == 0) edit.add_hooks.push_back(name);
    }
    if (edit.empty()) continue;
    if (auto s = writeFilter(family, edit, stats); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Applier::removeAll() {
  distrust();
  state_->applied = false;
  state_->last_desired.clear();
  state_->families.clear();
  for (conf::Family family : kFamilies) {
    auto now = kernel_.readFilter(family);
    if (!now.ok()) {
      if (ignorable(family, now.status())) continue;
      return now.status();
    }
    FilterEdit edit;
    for (const auto& [name, rules] : now->chains) edit.remove.push_back(name);
    for (const auto& [chain, count] : now->hooks) edit.delete_hooks[chain] = count;
    if (edit.empty()) continue;
    if (auto s = kernel_.restoreFilter(family, edit.render()); !s.ok()) return s;
  }
  auto sets = kernel_.listSets();
  if (!sets.ok()) return sets.status();
  std::vector<SetOp> ops;
  for (const auto& k : *sets) ops.push_back({SetOp::Kind::kDestroy, k.name, {}, {}, {}});
  if (ops.empty()) return absl::OkStatus();
  return kernel_.changeSets(ops);
}

}  // namespace quasar::netpolicy
