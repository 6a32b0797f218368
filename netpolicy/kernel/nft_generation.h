#pragma once
// The nftables ruleset generation of the calling thread's network namespace: a counter the
// kernel bumps with every committed nftables transaction, whoever makes it (nft, every
// iptables-nft and ip6tables-nft change, in any table). Reads (iptables-save) and ipset
// changes (another netfilter subsystem) leave it alone. One NFT_MSG_GETGEN request over
// NETLINK_NETFILTER, a few microseconds, so the Applier can tell "nothing changed" without
// reading the filter table.
//
// The messages are built and parsed as plain bytes, so they are tested without a kernel.
// Threading: thread-safe; every read opens its own socket in the calling thread's namespace.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace quasar::netpolicy {

// One NFT_MSG_GETGEN request (family AF_UNSPEC) with sequence number `seq`.
std::vector<uint8_t> nftGenerationRequest(uint32_t seq);

// The generation from a reply datagram to the request with `seq`: NotFound when the datagram
// holds no message of that sequence; the kernel's error (with its extended ack text) when it
// answered NLMSG_ERROR; DataLoss for a truncated or malformed message.
absl::StatusOr<uint32_t> parseNftGenerationReply(const uint8_t* data, size_t len, uint32_t seq);

// Asks the kernel. Unavailable when no NETLINK_NETFILTER socket can be opened or the kernel
// does not answer within a second; the kernel's error otherwise.
absl::StatusOr<uint32_t> readNftGeneration();

}  // namespace quasar::netpolicy
