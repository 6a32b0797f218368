#pragma once
// The NetworkPolicy compiler: Model in, Ruleset out, for one address family. Pure: no I/O, no
// clock, no globals; equal input gives equal output. Thread-compatible.
//
// Shape of the output (filter table; docs/network-policy.md):
//   QUASAR-FORWARD   conntrack ESTABLISHED,RELATED accepted first, then QUASAR-EGRESS, then
//                    QUASAR-INGRESS. (Hooking it from FORWARD is the applier's job.)
//   QUASAR-EGRESS    returns at once for packets from pods no egress policy isolates (one set,
//                    the union of the targets), clears quasar's mark bits, goes (goto) to the
//                    chain of the source's namespace (a set of the namespace's isolated pods).
//   QUASAR-NE-<hash> one per namespace with egress policies: jumps to each of its policies'
//                    chains for packets from their targets, rejects packets marked "isolated"
//                    and not "allowed".
//   QUASAR-INGRESS, QUASAR-NI-<hash>   the same for destinations; QUASAR-INGRESS first returns
//                    packets from the local node.
//   QUASAR-INPUT     (hooked from INPUT) replies pass, then QUASAR-EGRESS: pods' egress to the
//                    node itself.
//   QUASAR-I-<hash>, QUASAR-E-<hash>   one chain per policy and direction: marks the packet
//                    isolated, then marks it allowed when any rule's peer and port match.
// Sets are named "QSR-" + 16 hex digits of a hash of their canonical content, so policies with
// equal selectors share a set and no user string reaches a name. Pods change set members only:
// the rules depend on the policies, never on the number of pods. Text forms: render.h.

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "netpolicy/compiler/model.h"
#include "netpolicy/compiler/selector.h"

namespace quasar::netpolicy {

inline constexpr char kForwardChain[] = "QUASAR-FORWARD";
inline constexpr char kEgressChain[] = "QUASAR-EGRESS";
inline constexpr char kIngressChain[] = "QUASAR-INGRESS";
inline constexpr char kInputChain[] = "QUASAR-INPUT";
// Mark bits owned by quasar: isolated for the direction being checked, and allowed.
inline constexpr uint32_t kIsolatedMark = 0x20000;
inline constexpr uint32_t kAllowedMark = 0x10000;

enum class SetType { kHashIp, kHashNet, kHashIpPort };

struct SetEntry {
  std::string text;  // ipset member syntax: "10.0.0.1", "10.0.0.0/8", "10.0.0.1,tcp:80"
  bool nomatch = false;
  auto operator<=>(const SetEntry&) const = default;
};

struct IpSet {
  std::string name;       // "QSR-" + 16 hex
  std::string canonical;  // what was hashed (may contain user strings: never render it)
  SetType type = SetType::kHashIp;
  conf::Family family = conf::Family::kV4;
  // Ordered (the rendering and the kernel diffs walk it in order); a set, not a sorted vector,
  // because pod events insert into sets of 10,000 members on every ADD (three copies: the
  // agent's, the applier's and its last desired state): a vector's insert cost 0.4 ms per ADD.
  std::set<SetEntry> entries;
};

struct ChainRule {
  std::vector<std::string> args;  // iptables tokens after "-A CHAIN"
};

struct Chain {
  std::string name;
  std::vector<ChainRule> rules;
};

struct Ruleset {
  conf::Family family = conf::Family::kV4;
  std::vector<IpSet> sets;    // sorted by name
  std::vector<Chain> chains;  // the fixed chains first, then per-policy chains by name
};

struct CompileOptions {
  conf::Family family = conf::Family::kV4;
  // The node the ruleset is for: its addresses may always reach pods. Empty or not in the
  // model: no such rule.
  std::string local_node;
};

// Fails (InvalidArgument) on a policy the API would reject: a port outside 1..65535, an
// end_port below port or with a named port, a peer with ip_block and a selector. Fails
// (Internal) if two different canonical texts hash to one name.
absl::StatusOr<Ruleset> compile(const Model& model, const CompileOptions& options);

// A set whose members depend on pods: the addresses of a group's pods (hash:ip; targets and
// selector peers), or their addresses with a named container port (hash:ip,port). Node and
// ipBlock sets do not depend on pods. What Membership (membership.h) patches without a compile.
struct PodSetDefinition {
  std::string set;  // the set's name in compile()'s output
  SetType type = SetType::kHashIp;
  PodGroup group;
  std::string port_name;               // kHashIpPort only
  Protocol protocol = Protocol::kTcp;  // kHashIpPort only
  // Not empty: a union, the pods some policy isolates for one direction (hash:ip). A pod is in
  // it when it gives an entry to any of these target sets (sorted names); `group` is unused.
  std::vector<std::string> union_of;
};

// The entries `pod` gives the set when it is in the group (the caller checks that): its
// addresses of `family`, with the named port for kHashIpPort. Sorted, unique. compile() fills
// sets with this.
std::vector<SetEntry> podSetEntries(const PodSetDefinition& definition, const Pod& pod,
                                    conf::Family family);

// compile(), also giving its pod-dependent sets (sorted by name) in `pod_sets` when it succeeds.
absl::StatusOr<Ruleset> compile(const Model& model, const CompileOptions& options,
                                std::vector<PodSetDefinition>* pod_sets);

// The pod-dependent sets of compile(model, options), sorted by name, found by compile()'s own
// walk over the policies but without computing members (no pod is looked at; the walk is most
// of a compile's time, though). Fails as compile() does.
absl::StatusOr<std::vector<PodSetDefinition>> podSetDefinitions(const Model& model,
                                                                const CompileOptions& options);

// Name helpers, exposed for tests: prefix + 16 hex digits of a 64-bit hash of `text`.
std::string hashedName(std::string_view prefix, std::string_view text);
std::string protocolName(Protocol protocol);
// "hash:ip", "hash:net", "hash:ip,port": the ipset type names.
const char* setTypeName(SetType type);

}  // namespace quasar::netpolicy
