#pragma once
// Pod events without a compile. Pods change only the members of sets, never rules: the
// pod-dependent sets are the hash:ip sets of pod groups (targets, selector peers) and the
// hash:ip,port sets of named ports and the unions of target sets (compiler.h, PodSetDefinition). Membership knows, from the
// same model and options as a compile, which of those sets a pod belongs to, and patches a
// compiled Ruleset for one pod added, deleted or changed (labels, addresses, node, ports) so
// that it equals compile() of the changed model.
//
// Not handled: a change of a namespace's or a node's labels, of a node's addresses, of the
// local node or of a policy. Membership holds copies of the namespaces and nodes it was built
// from (groups with a namespace or node selector look at their labels); after such a change,
// compile() again and build() a new Membership from the same model.
//
// A Membership and the Ruleset it patches move together: build it from the model the ruleset
// was compiled from, then give every pod change of the model to applyPodChange() with that
// ruleset. An entry is in a set while some pod gives it: it counts the pods behind the entries
// of addresses more than one pod has (an address reused before the old pod's delete is seen),
// the ruleset's sets tell whether one pod does.
//
// Thread-compatible; movable. Costs: build() walks the policies (a compile without members;
// fromCompile() reuses the compile's walk) and the pods' addresses once; entriesOf() looks only
// at the sets of the pod's namespace and at those with a namespace selector matching it.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "netpolicy/compiler/compiler.h"
#include "netpolicy/compiler/model.h"

namespace quasar::netpolicy {

// One entry of one set.
struct PodSetEntry {
  std::string set;
  SetEntry entry;
  auto operator<=>(const PodSetEntry&) const = default;
};

// What a pod change did to the sets: the applier's ipset add/del. Sorted.
struct PodSetDelta {
  std::vector<PodSetEntry> added;
  std::vector<PodSetEntry> removed;
  bool empty() const { return added.empty() && removed.empty(); }
};

class Membership {
 public:
  // Fails as compile(model, options) does.
  static absl::StatusOr<Membership> build(const Model& model, const CompileOptions& options);
  // The same from the definitions compile(model, options, &definitions) gave.
  static Membership fromCompile(const Model& model, const CompileOptions& options,
                                std::vector<PodSetDefinition> definitions);

  Membership(Membership&&) noexcept;
  Membership& operator=(Membership&&) noexcept;
  ~Membership();

  // Every entry `pod` puts into the pod-dependent sets (its addresses of options.family).
  // Sorted, unique. Independent of the other pods.
  std::vector<PodSetEntry> entriesOf(const Pod& pod) const;

  // Patches `ruleset` (compiled from the model this Membership follows, and patched only
  // through it since) for one pod change: old_pod null = added, new_pod null = deleted, both =
  // changed. Sets' entries stay sorted and unique. Returns what changed in the sets. Fails
  // (FailedPrecondition, nothing changed) when the ruleset lacks one of the sets or one of
  // old_pod's entries (old_pod is not what the model had, or the ruleset is another one).
  absl::StatusOr<PodSetDelta> applyPodChange(const Pod* old_pod, const Pod* new_pod,
                                             Ruleset* ruleset);

  const std::vector<PodSetDefinition>& definitions() const { return definitions_; }

 private:
  struct Labelled;  // the namespaces and nodes, with an index over them

  Membership() = default;

  conf::Family family_ = conf::Family::kV4;
  std::unique_ptr<Labelled> labelled_;  // on the heap: its ModelIndex points into it
  std::vector<PodSetDefinition> definitions_;
  // Indexes into definitions_. A pod of namespace N may be in named_[N] and, when the model
  // has N, in selected_[N] (the namespace selectors matching N's labels), else in
  // selected_unknown_ (those matching no labels, as compile() sees an unknown namespace).
  std::map<std::string, std::vector<size_t>> named_;
  std::map<std::string, std::vector<size_t>> selected_;
  std::vector<size_t> selected_unknown_;
  // The unions of target sets (PodSetDefinition::union_of), by united set: a pod is in a union
  // when it is in any of the sets it unites, which the visits above decide. (By set, because a
  // node has two unions per namespace with policies: walking them all cost more than the rest
  // of a pod event.)
  std::map<std::string, std::vector<size_t>> unions_of_;
  // How many pods give an entry, where more than one does. An entry in a set and not here has
  // one pod.
  std::map<PodSetEntry, int> shared_;
};

}  // namespace quasar::netpolicy
