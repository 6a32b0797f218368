#pragma once
// What stands for nftables' ruleset generation (nft_generation.h) on a node whose iptables is
// the legacy backend (x_tables), which has no generation: a digest of the filter tables of both
// families as the kernel holds them (IPT_SO_GET_ENTRIES, IP6T_SO_GET_ENTRIES: the table's rules
// as one blob of ipt_entry / ip6t_entry records) with the packet and byte counters zeroed. Any
// change of a rule, a chain or a policy changes the blob, so the digest; traffic (counters),
// reads and ipset changes do not. Two getsockopt calls per family: about a millisecond at 6,000
// rules, against the 0.4 s of an iptables-save, so the Applier can tell "nothing changed"
// without reading the table.
//
// Unlike a generation it does not count: a change undone gives the old digest back (the table
// is then as it was, which is all the Applier needs to know), and one write does not step it by
// one.
//
// The blob is walked as plain bytes, so that part is tested without a kernel.
// Threading: thread-safe; every read opens its own sockets in the calling thread's namespace.

#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "conf/ip.h"

namespace quasar::netpolicy {

// The digest of one family's entries blob (`entries`, as IPT_SO_GET_ENTRIES returns it, of
// `size` bytes): zeroes each entry's counters in place, then hashes it. DataLoss when an
// entry's next_offset does not walk the blob exactly.
absl::StatusOr<uint64_t> digestLegacyEntries(conf::Family family, std::span<uint8_t> entries);

// Both families' filter tables from the kernel, combined. A family whose filter table the
// kernel does not have (no IPv6, no ip6table_filter) counts as empty. Unavailable when the
// socket cannot be opened (no CAP_NET_ADMIN, no x_tables); the kernel's error otherwise.
absl::StatusOr<uint64_t> readLegacyFilterDigest();

}  // namespace quasar::netpolicy
