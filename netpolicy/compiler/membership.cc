#include "netpolicy/compiler/membership.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "netpolicy/compiler/selector.h"

namespace quasar::netpolicy {

struct Membership::Labelled {
  explicit Labelled(Model m) : model(std::move(m)), index(model) {}
  Model model;  // namespaces and nodes only
  ModelIndex index;
};

Membership::Membership(Membership&&) noexcept = default;
Membership& Membership::operator=(Membership&&) noexcept = default;
Membership::~Membership() = default;

absl::StatusOr<Membership> Membership::build(const Model& model, const CompileOptions& options) {
  auto definitions = podSetDefinitions(model, options);
  if (!definitions.ok()) return definitions.status();
  return fromCompile(model, options, std::move(*definitions));
}

Membership Membership::fromCompile(const Model& model, const CompileOptions& options,
                                   std::vector<PodSetDefinition> definitions) {
  Membership m;
  m.family_ = options.family;
  Model labelled;
  labelled.namespaces = model.namespaces;
  labelled.nodes = model.nodes;
  m.labelled_ = std::make_unique<Labelled>(std::move(labelled));
  m.definitions_ = std::move(definitions);
  // Every namespace the model has gets a key, also when no selector matches it: a pod of a
  // namespace without a key is seen with no namespace labels.
  for (const auto& ns : model.namespaces) m.selected_[ns.name];
  for (size_t i = 0; i < m.definitions_.size(); ++i) {
    if (!m.definitions_[i].union_of.empty()) {
      for (const auto& set : m.definitions_[i].union_of) m.unions_of_[set].push_back(i);
      continue;
    }
    const PodGroup& group = m.definitions_[i].group;
    if (!group.namespace_selector) {
      m.named_[group.namespace_name].push_back(i);
      continue;
    }
    for (auto& [name, ids] : m.selected_) {
      if (matches(*group.namespace_selector, m.labelled_->index.namespaceLabels(name))) {
        ids.push_back(i);
      }
    }
    if (matches(*group.namespace_selector, Labels{})) m.selected_unknown_.push_back(i);
  }

  // Only entries of an address several pods have can have several pods.
  std::map<conf::IpAddress, int> holders;
  auto addressesOf = [&](const Pod& pod) {
    std::set<conf::IpAddress> out;
    for (const auto& ip : pod.ips) {
      if (ip.family() == m.family_) out.insert(ip);
    }
    return out;
  };
  for (const auto& pod : model.pods) {
    for (const auto& ip : addressesOf(pod)) ++holders[ip];
  }
  std::map<PodSetEntry, int> counts;
  for (const auto& pod : model.pods) {
    const auto ips = addressesOf(pod);
    if (std::none_of(ips.begin(), ips.end(), [&](const auto& ip) { return holders[ip] > 1; })) {
      continue;
    }
    for (auto& e : m.entriesOf(pod)) ++counts[std::move(e)];
  }
  for (auto& [entry, n] : counts) {
    if (n > 1) m.shared_.emplace(entry, n);
  }
  return m;
}

std::vector<PodSetEntry> Membership::entriesOf(const Pod& pod) const {
  std::vector<PodSetEntry> out;
  auto visit = [&](const std::vector<size_t>& ids) {
    for (size_t i : ids) {
      const PodSetDefinition& d = definitions_[i];
      if (!inGroup(labelled_->index, pod, d.group)) continue;
      for (auto& e : podSetEntries(d, pod, family_)) out.push_back({d.set, std::move(e)});
    }
  };
  if (auto it = named_.find(pod.namespace_name); it != named_.end()) visit(it->second);
  auto it = selected_.find(pod.namespace_name);
  visit(it != selected_.end() ? it->second : selected_unknown_);
  std::set<size_t> unions;
  for (const auto& e : out) {
    if (auto u = unions_of_.find(e.set); u != unions_of_.end()) {
      unions.insert(u->second.begin(), u->second.end());
    }
  }
  for (size_t i : unions) {
    const PodSetDefinition& d = definitions_[i];
    for (auto& e : podSetEntries(d, pod, family_)) out.push_back({d.set, std::move(e)});
  }
  // Each set is visited once and podSetEntries() is unique: sorting is enough.
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

IpSet* findSet(Ruleset* ruleset, const std::string& name) {
  auto it = std::lower_bound(ruleset->sets.begin(), ruleset->sets.end(), name,
                             [](const IpSet& s, const std::string& n) { return s.name < n; });
  return it != ruleset->sets.end() && it->name == name ? &*it : nullptr;
}

bool has(IpSet* set, const SetEntry& entry) { return set->entries.contains(entry); }

}  // namespace

absl::StatusOr<PodSetDelta> Membership::applyPodChange(const Pod* old_pod, const Pod* new_pod,
                                                       Ruleset* ruleset) {
  std::vector<PodSetEntry> before, after;
  if (old_pod != nullptr) before = entriesOf(*old_pod);
  if (new_pod != nullptr) after = entriesOf(*new_pod);
  std::vector<PodSetEntry> gone, come;
  std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                      std::back_inserter(gone));
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                      std::back_inserter(come));

  // Everything is checked before anything changes.
  std::vector<IpSet*> gone_sets, come_sets;
  for (auto [entries, sets] : {std::pair{&gone, &gone_sets}, std::pair{&come, &come_sets}}) {
    for (const auto& e : *entries) {
      IpSet* set = findSet(ruleset, e.set);
      if (set == nullptr) {
        return absl::FailedPreconditionError(absl::StrCat("the ruleset has no set ", e.set));
      }
      sets->push_back(set);
    }
  }
  for (size_t i = 0; i < gone.size(); ++i) {
    if (!has(gone_sets[i], gone[i].entry)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "set ", gone[i].set, " lacks ", gone[i].entry.text, ": the old pod is not the model's"));
    }
  }

  PodSetDelta delta;
  for (size_t i = 0; i < gone.size(); ++i) {
    if (auto shared = shared_.find(gone[i]); shared != shared_.end()) {
      if (--shared->second == 1) shared_.erase(shared);
      continue;  // another pod still gives it
    }
    gone_sets[i]->entries.erase(gone[i].entry);
    delta.removed.push_back(std::move(gone[i]));
  }
  for (size_t i = 0; i < come.size(); ++i) {
    if (!come_sets[i]->entries.insert(come[i].entry).second) {
      ++shared_.try_emplace(come[i], 1).first->second;
      continue;  // another pod gives it already
    }
    delta.added.push_back(std::move(come[i]));
  }
  return delta;
}

}  // namespace quasar::netpolicy
