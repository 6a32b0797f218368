#pragma once
// What the policy Applier needs from the kernel: quasar's ipsets (names "QSR-*") and the filter
// table's quasar chains ("QUASAR-*") and hooks, per address family. Small on purpose, so unit
// tests run the Applier against an in-memory fake (fake_policy_kernel.h) and the netns tests
// against the real one (linux_policy_kernel.h).
//
// Text forms are the kernel's own: a set entry as `ipset save` prints it (a hash:net host
// entry without "/32" or "/128"), a rule as `iptables-save` prints it after "-A CHAIN ", or an
// opaque digest of the rule as the kernel holds it (the nf_tables backend: nft_filter_dump.h).
// The Applier compares kernel text with kernel text only, and never parses a rule's text.
//
// Threading: implementations are thread-compatible. Failure: every call returns its error;
// kUnavailable from readFilter/restoreFilter means the family's tools are missing on this node.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "netpolicy/compiler/compiler.h"

namespace quasar::netpolicy {

inline constexpr char kSetPrefix[] = "QSR-";
inline constexpr char kChainPrefix[] = "QUASAR-";
// Sets are created with room for every pod of a large cluster (10,000+ pods, several sets each).
inline constexpr uint32_t kSetMaxElem = 262144;

// One of quasar's sets as the kernel lists it, without its members.
struct KernelSet {
  std::string name;
  SetType type = SetType::kHashIp;
  conf::Family family = conf::Family::kV4;
  int64_t members = 0;
};

// One change of a set batch. Repeats are harmless (-exist): creating an existing set, adding a
// present entry, deleting a missing entry, destroying a missing set all succeed.
struct SetOp {
  enum class Kind { kCreate, kAdd, kDel, kDestroy };
  Kind kind = Kind::kAdd;
  std::string set;
  SetType type = SetType::kHashIp;          // kCreate only
  conf::Family family = conf::Family::kV4;  // kCreate only
  SetEntry entry;                           // kAdd, kDel only
};

// The filter table of one family, as far as quasar cares.
struct FilterState {
  // Every chain named QUASAR-*, with its rules in order in the kernel's text form (above).
  std::map<std::string, std::vector<std::string>> chains;
  // Per built-in chain (FORWARD, INPUT), how many of its rules are exactly "-j QUASAR-<x>",
  // keyed by the jump target: {"QUASAR-FORWARD": 1}.
  std::map<std::string, int> hooks;
};

class PolicyKernel {
 public:
  virtual ~PolicyKernel() = default;

  // Quasar's sets (name starts with kSetPrefix), both families, with member counts. Cheap: no
  // members are read.
  virtual absl::StatusOr<std::vector<KernelSet>> listSets() = 0;
  // One set's entries (NotFound when the set does not exist).
  virtual absl::StatusOr<std::vector<SetEntry>> readSet(const std::string& name) = 0;
  // Applies the ops in order, as one batch where the kernel allows it. On failure some ops may
  // have been applied.
  virtual absl::Status changeSets(const std::vector<SetOp>& ops) = 0;
  // The filter table's quasar chains and hooks.
  virtual absl::StatusOr<FilterState> readFilter(conf::Family family) = 0;
  // Only the hooks (FilterState::hooks): cheap, it lists FORWARD and INPUT alone.
  virtual absl::StatusOr<std::map<std::string, int>> readHooks(conf::Family family) = 0;
  // Runs iptables-restore --noflush (ip6tables-restore for v6) with `input`: one transaction.
  virtual absl::Status restoreFilter(conf::Family family, const std::string& input) = 0;
  // A number that changes whenever anyone changes the filter table of either family (a rule,
  // a chain), and stays while nobody does: reads and set changes leave it alone. Cheap (one
  // netlink request), so it tells "untouched" without readFilter. The nftables ruleset
  // generation (nft_generation.h; it may also move for changes of other tables), or with the
  // legacy backend a digest of the filter tables (legacy_filter_digest.h), which does not
  // count: a change undone brings the old value back.
  virtual absl::StatusOr<uint64_t> filterGeneration() = 0;
};

// The built-in chain that jumps to quasar's `chain`, or "" when `chain` is not hooked.
inline const char* hookParent(const std::string& chain) {
  if (chain == kForwardChain) return "FORWARD";
  if (chain == kInputChain) return "INPUT";
  return "";
}

}  // namespace quasar::netpolicy
