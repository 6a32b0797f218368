#pragma once
// Gratuitous ARP: after a floating-IP pod comes up on a node (first start or after a move), the
// node announces the address with its own MAC on the physical subnet, so neighbours that still
// point the address at the old node learn its new place at once instead of after their entry
// goes stale (tens of seconds).
//
// The announcement is an ARP request (the form Linux and most switches and routers accept, as
// `arping -U` sends it) broadcast on the device: sender and target address both `ip`, sender
// MAC the device's own. A Linux neighbour updates an entry it has for the address (even a
// REACHABLE one: a gratuitous ARP overrides the lock time); it creates no entry unless its
// arp_accept is on. Entries that are PERMANENT or NOARP stay as they are.

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "conf/ip.h"
#include "conf/net_conf.h"

namespace quasar::routing {

// Ethernet's minimum frame (without FCS): the 42 bytes of header and ARP, zero-padded.
inline constexpr size_t kArpFrameLen = 60;

// The whole Ethernet frame: broadcast destination, `mac` as the source, ARP request (Ethernet,
// IPv4) with sender `mac`/`ip`, target 00:00:00:00:00:00/`ip`. `ip` must be IPv4.
std::array<uint8_t, kArpFrameLen> gratuitousArpFrame(const conf::Mac& mac,
                                                     const conf::IpAddress& ip);

// Sends one gratuitous ARP for `ip` on `ifname`, from the device's MAC, through an AF_PACKET
// socket opened in the calling thread's namespace (and closed before returning). Needs
// CAP_NET_RAW. InvalidArgument for an IPv6 address (that would be an unsolicited neighbour
// advertisement), NotFound when there is no such device, an error when it is down.
absl::Status sendGratuitousArp(const std::string& ifname, const conf::IpAddress& ip);

}  // namespace quasar::routing
