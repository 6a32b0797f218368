#pragma once
// Makes the kernel's quasar-owned state (ipsets named QSR-*, filter-table chains named QUASAR-*
// and their hooks from FORWARD and INPUT) equal to compiled Rulesets, changing only what
// differs: set members added and removed in place, a chain rewritten only when its rules
// changed, hooks inserted only when missing. Never flushes, reorders or deletes another
// program's rules, chains or sets.
//
// apply() diffs against what it applied last (memory; the first call reads the kernel), so an
// event that only moves set members costs ipset changes and no iptables call. repair() reads
// the kernel and puts back what someone changed (a deleted chain or hook, a flushed set).
// Order inside one apply: sets created and filled, then one iptables-restore --noflush
// transaction per family (chains written, stale chains deleted, hooks added), then stale sets
// destroyed, so no rule ever references a missing set.
//
// Threading: thread-compatible (quasard's policy agent calls it from one thread).
// Failure: a failed step returns its error; the next apply() or repair() starts from the
// kernel's state again (it re-reads what it cannot trust), so a failure leaves nothing stuck.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "netpolicy/compiler/compiler.h"
#include "netpolicy/compiler/membership.h"
#include "netpolicy/kernel/policy_kernel.h"

namespace quasar::netpolicy {

struct FilterEdit;

struct ApplyStats {
  int sets_created = 0;
  int sets_destroyed = 0;
  int members_added = 0;
  int members_removed = 0;
  int chains_written = 0;  // including rewritten ones
  int chains_removed = 0;
  int hooks_added = 0;
  int restores = 0;      // iptables-restore runs (0 when only members moved)
  int filter_reads = 0;  // whole filter tables read (iptables-save: the expensive part)
  bool changed() const {
    return sets_created || sets_destroyed || members_added || members_removed || chains_written ||
           chains_removed || hooks_added;
  }
};

class Applier {
 public:
  // `kernel` must outlive the applier.
  explicit Applier(PolicyKernel& kernel);
  ~Applier();

  // The desired state: at most one Ruleset per family. A family with no Ruleset gets nothing
  // (its quasar chains, hooks and sets are removed).
  absl::StatusOr<ApplyStats> apply(const std::vector<Ruleset>& desired);
  // A pod event's set changes (netpolicy/compiler/membership.h) straight to the kernel, without
  // diffing the other sets. FailedPrecondition, nothing changed, when the applier does not trust
  // its memory (before the first apply(), after a failure) or does not know one of the sets:
  // apply() the whole state then.
  absl::StatusOr<ApplyStats> changeMembers(conf::Family family, const PodSetDelta& delta);
  // The cheap check, for every half second even at thousands of rules: quasar's sets (names and
  // member counts) and the hooks (FORWARD and INPUT only). Any drift there runs repair().
  // Where the kernel has a filter generation (PolicyKernel::filterGeneration), also
  // whether anyone changed the filter table since memory last matched it (or a chain's kernel
  // text is not learnt yet): then it runs repair() when `full_allowed`, and leaves it to the
  // next call when not (the caller bounds how often the table is read). An unchanged
  // generation skips the read: the chains are untouched. Without a generation (it could not
  // be read) the chains are left to repair().
  absl::StatusOr<ApplyStats> quickRepair(bool full_allowed = true);
  // One generation read, nothing else: true when quickRepair() would read the filter table now
  // (it changed since memory last matched it, or a written chain's text is still to learn).
  // False without a generation, before apply() and after a failure (quickRepair() then acts).
  bool filterChanged();
  // Whether the last generation read succeeded: quickRepair() then detects a changed chain
  // itself, and periodic repair() calls are not needed.
  bool watchesGeneration() const;
  // Reads the kernel and repairs drift from the last applied state. Before any apply(): no-op.
  absl::StatusOr<ApplyStats> repair();
  // Removes every hook, chain and set quasar owns, in both families (also ones this process did
  // not make: a previous quasard's).
  absl::Status removeAll();

 private:
  struct State;
  absl::Status applyDesired(const std::vector<Ruleset>& desired, ApplyStats& stats);
  absl::Status loadFromKernel(const std::vector<Ruleset>& desired, ApplyStats& stats);
  absl::Status writeFilter(conf::Family family, const FilterEdit& edit, ApplyStats& stats);
  absl::Status repairDrift(ApplyStats& stats);
  // The kernel's filter generation, or nullopt when the read failed.
  std::optional<uint64_t> readGeneration();
  bool chainTextsKnown() const;
  // The chains in memory may differ from the kernel's at `generation`: it moved since they were
  // known, or a chain's text as the kernel prints it was not learnt yet.
  bool chainsMayDiffer(uint64_t generation) const;
  // Memory no longer matches the kernel (a failure): re-read everything next time.
  void distrust();

  PolicyKernel& kernel_;
  std::unique_ptr<State> state_;
};

}  // namespace quasar::netpolicy
