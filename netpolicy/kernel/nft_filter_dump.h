#pragma once
// The filter table of one family read over nftables' own netlink (NFT_MSG_GETCHAIN and
// NFT_MSG_GETRULE dumps of table "filter"), for nodes whose iptables is the nf_tables backend:
// milliseconds, where iptables-save of a table with 1,000 policies' chains takes most of a
// second (issue 14: a tampered chain is back within a second).
//
// It gives what parseIptablesSave(iptables-save -t filter) gives, with one difference: a rule
// is not its iptables-save text but a digest of its nftables expressions ("nft:" and 16 hex
// digits), with packet and byte counters left out so that traffic does not change it. Equal
// rules give equal digests and a changed rule a different one, which is all the Applier asks of
// a rule's text (it compares kernel text with kernel text). Hooks are counted as
// parseIptablesSave counts "-j QUASAR-<x>" in the parent chain: a rule whose only expression
// besides a counter is a jump to the quasar chain.
//
// Requests and replies are plain bytes, so they are tested without a kernel.
// Threading: thread-safe; each read opens its own socket in the calling thread's namespace.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "netpolicy/kernel/policy_kernel.h"

namespace quasar::netpolicy {

enum class NftDumpKind { kChains, kRules };

// A dump request for table "filter" of `family`; for kRules and a non-empty `chain`, that
// chain's rules only.
std::vector<uint8_t> nftFilterDumpRequest(NftDumpKind kind, conf::Family family, uint32_t seq,
                                          std::string_view chain = {});

// What the replies to dump requests added up to so far.
struct NftFilterDump {
  FilterState state;
  bool done = false;         // the dump's NLMSG_DONE arrived
  bool interrupted = false;  // NLM_F_DUMP_INTR: the table changed during the dump; read again
};

// Adds one received datagram's messages of sequence `seq` to `out` (chains named QUASAR-* of
// table "filter", their rules' digests, hooks). The kernel's error when it answered one;
// DataLoss for a malformed message.
absl::Status parseNftFilterDump(const uint8_t* data, size_t len, uint32_t seq, NftFilterDump& out);

// Reads the table: the quasar chains (also empty ones) and their rules, and the hooks; with
// a non-empty `chain`, only that chain's rules (no chain list): enough for the hooks of one
// parent chain. A dump the kernel marks interrupted is read again (Unavailable after five).
// Unavailable also when the kernel has no nf_tables.
absl::StatusOr<FilterState> readNftFilter(conf::Family family, std::string_view chain = {});

}  // namespace quasar::netpolicy
