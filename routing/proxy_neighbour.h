#pragma once
// Proxy neighbour entries (`ip neigh add proxy IP dev DEV`): the node answers ARP on DEV for IP
// and for nothing else, unlike the device-wide proxy_arp setting. Floating-IP pods in veth mode
// are reached this way from hosts on the physical subnet: the node's uplink answers for the
// pod's address, and the /32 route to the pod's veth carries the traffic on.
//
// When the kernel answers (net/ipv4/arp.c, arp_process): only for an ARP request whose target
// has a unicast route through a device other than the one the request came in on
// (rt->dst.dev != dev), and only while forwarding is on for that device. So the pod's /32 route
// must exist (via its veth, or the macvlan leg) before the entry helps, and
// net.ipv4.conf.<dev>.forwarding must be 1 (enableForwarding sets it for all devices).
// A broadcast request is answered after a random delay of up to neigh.<dev>.proxy_delay
// (0.8 s by default); answerProxyArpAtOnce sets it to 0. A unicast request (a neighbour
// re-checking an entry) is answered at once either way.
//
// Operations act in the namespace of the socket they are given; not thread-safe (the socket is
// not). Every entry quasar adds carries protocol kRouteProtocol, so a reconciler can tell its
// entries from an operator's.

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "routing/netlink_socket.h"
#include "routing/nl_message.h"
#include "routing/rtnl.h"

namespace quasar::routing {

// RTM_NEWNEIGH with NTF_PROXY (and NDA_PROTOCOL kRouteProtocol). The kernel creates or updates
// the entry; adding one that exists succeeds.
NlMessage proxyNeighbourAddMessage(int ifindex, const conf::IpAddress& ip);
NlMessage proxyNeighbourDeleteMessage(int ifindex, const conf::IpAddress& ip);
// Dumps the proxy entries of every device (the kernel dumps proxy entries only when the
// request's ndm_flags is exactly NTF_PROXY).
NlMessage proxyNeighbourDumpMessage(conf::Family family);

// Idempotent: an entry that exists already is success.
absl::Status addProxyNeighbour(NetlinkSocket& sock, int ifindex, const conf::IpAddress& ip);
// Idempotent: an entry that does not exist is success.
absl::Status deleteProxyNeighbour(NetlinkSocket& sock, int ifindex, const conf::IpAddress& ip);
// The proxy entries of `ifindex` (0: of every device), whoever added them (see `protocol`).
absl::StatusOr<std::vector<NeighbourInfo>> listProxyNeighbours(NetlinkSocket& sock,
                                                               conf::Family family, int ifindex);

// Sets net.ipv4.neigh.<dev>.proxy_delay to 0 in the calling thread's namespace, so that proxied
// answers to broadcast requests go out at once rather than after a random delay.
absl::Status answerProxyArpAtOnce(const std::string& dev);

}  // namespace quasar::routing
