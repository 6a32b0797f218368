#pragma once
// An in-memory PolicyKernel for unit tests (openr's FakeNetlinkProtocolSocket): ipsets and one
// filter table per family, with the kernel's refusals that the Applier's ordering relies on:
//   - a rule naming a missing set (or a set of the other family) or a missing jump target fails
//     the whole restore, which is applied all or nothing;
//   - -X of a chain that still has rules or is referenced fails;
//   - destroying a set a rule references fails (in use).
// After every write it also checks that no rule references a missing set and counts violations
// (the tamper helpers bypass the refusals, as a careless admin with the real tools would not be
// able to: they keep that invariant too).
// It prints rules as iptables-save does, not as written ("-p tcp --dport 80" comes back as
// "-p tcp -m tcp --dport 80", "ESTABLISHED,RELATED" as "RELATED,ESTABLISHED"), so the Applier
// must compare kernel text with kernel text. Test-only; thread-compatible.

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "netpolicy/kernel/policy_kernel.h"

namespace quasar::netpolicy::testing {

class FakePolicyKernel : public PolicyKernel {
 public:
  struct Set {
    SetType type = SetType::kHashIp;
    conf::Family family = conf::Family::kV4;
    std::set<SetEntry> entries;  // kernel text form
  };
  struct Table {
    std::vector<std::string> order;  // chain names in creation order; built-ins first
    std::map<std::string, std::vector<std::string>> chains;  // rules as iptables-save prints them
  };

  FakePolicyKernel();

  absl::StatusOr<std::vector<KernelSet>> listSets() override;
  absl::StatusOr<std::vector<SetEntry>> readSet(const std::string& name) override;
  absl::Status changeSets(const std::vector<SetOp>& ops) override;
  absl::StatusOr<FilterState> readFilter(conf::Family family) override;
  absl::StatusOr<std::map<std::string, int>> readHooks(conf::Family family) override;
  absl::Status restoreFilter(conf::Family family, const std::string& input) override;
  absl::StatusOr<uint64_t> filterGeneration() override;

  // State, open for tests to inspect and to prepare (another program's sets and rules).
  std::map<std::string, Set> sets;
  std::map<conf::Family, Table> tables;

  // Counters.
  int restores = 0;          // successful restoreFilter calls
  int set_batches = 0;       // successful changeSets calls
  int set_ops = 0;           // ops in them
  int reads = 0;             // listSets, readSet and readFilter calls
  int filter_reads = 0;      // readFilter calls (the expensive read)
  int hook_reads = 0;        // readHooks calls
  int generation_reads = 0;  // filterGeneration calls
  int writes() const { return restores + set_batches; }
  int violations = 0;                       // times a rule referenced a missing set after a write
  std::vector<std::string> restore_inputs;  // every restoreFilter input, in order

  // Failure injection: the next N calls of the kind fail (a failing changeSets applies its
  // first half first, as a real batch can stop midway).
  int fail_restores = 0;
  int fail_set_changes = 0;
  int fail_reads = 0;
  // The family's tools are not installed: readFilter and restoreFilter are Unavailable.
  std::set<conf::Family> unavailable;

  // The filter generation, as nftables keeps it: every successful restoreFilter and every
  // tamper helper below moves it; reads and set changes do not. A test that edits `tables`
  // directly calls bumpGeneration().
  uint64_t generation = 1;
  void bumpGeneration() { ++generation; }
  // filterGeneration() fails (Unavailable): a kernel whose generation cannot be read.
  bool no_generation = false;
  // Another program changes nftables all the time: every filterGeneration() finds it moved.
  bool churn = false;
  // How long each readFilter takes (iptables-save of a large table).
  std::chrono::milliseconds filter_read_delay{0};
  // Runs once, inside the next readFilter, after the table was printed: a change made while
  // iptables-save runs, which that read does not show.
  std::function<void(FakePolicyKernel&)> during_filter_read;

  // Tampering, as an admin with iptables and ipset could.
  void deleteChain(conf::Family family, const std::string& chain);  // and rules jumping to it
  void flushChain(conf::Family family, const std::string& chain);
  void flushSet(const std::string& set);
  void removeHook(conf::Family family, const std::string& chain);
  void addRule(conf::Family family, const std::string& chain, const std::string& rule);

  // The rules of a chain (empty if missing) and whether a set is referenced by any rule.
  std::vector<std::string> rules(conf::Family family, const std::string& chain) const;
  bool hasChain(conf::Family family, const std::string& chain) const;

 private:
  void checkInvariant();
};

}  // namespace quasar::netpolicy::testing
