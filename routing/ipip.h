#pragma once
// The IPIP tunnel device, as Calico's IPIP mode and flannel's IPIP backend use it: the kernel's
// catch-all `tunl0` (no fixed local or remote end), so a route `block via nodeIP dev tunl0
// onlink` is all a peer needs: the route's gateway is the outer destination. The device carries
// a /32 from this node's block (the network address of its lowest block, never handed to a pod),
// so traffic the node itself sends to remote pods has a source those pods can answer.
// The kernel's `ipip` module must be loaded (or loadable); without it the device cannot exist
// and the routes through it are not installed.

#include <vector>

#include "absl/status/status.h"
#include "conf/ip.h"

namespace quasar::routing {

// Makes tunl0 exist (creating it when the kernel made no fallback device in this namespace),
// with `mtu` (the uplink's minus 20), `address` as its only IPv4 address, rp_filter off (packets
// arrive from remote pods' addresses) and up. Idempotent. FailedPrecondition when this kernel
// has no ipip support.
absl::Status ensureIpipDevice(int mtu, const conf::IpAddress& address);
// In a mode without IPIP: takes quasar's address (any inside `blocks`, this node's) off tunl0
// and brings it down if it carries nothing else, so a switch from IPIP leaves nothing behind.
// Succeeds when there is no tunl0.
absl::Status releaseIpipDevice(const std::vector<conf::IpPrefix>& blocks);

}  // namespace quasar::routing
