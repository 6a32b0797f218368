#pragma once
// The macvlan data path of floating-IP pools with `mode: macvlan`: the pod's interface is a
// macvlan (mode bridge) of the uplink, or of its VLAN sub-interface, with its own MAC on the
// physical subnet; no proxy ARP and no routing through the node.
//
// A macvlan's parent never delivers to its children's stacks, nor they to its (the kernel
// keeps them apart by design), so the node could not reach its own macvlan pods (kubelet
// probes would fail). Hence the node's leg: one more macvlan of the same parent in the node's
// namespace (qmv-<parent>), up, without an address, and a /32 route to each local macvlan pod
// through it. The pod, ARPing for the node's address, gets the leg's MAC (arp_ignore 0 answers
// for any local address), and the node's replies go back through the leg. The leg has
// arp_filter on, so it answers only senders routed through it (the local macvlan pods), never
// hosts on the wire asking for the node's address (those get the uplink's answer as before).
//
// Operations take a socket in the node's namespace (the calling thread may be elsewhere: a
// socket in the pod's namespace is opened from the thread's own, see openNetlinkSocketIn).
// Not thread-safe.

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "conf/net_conf.h"
#include "routing/fd.h"
#include "routing/netlink_socket.h"
#include "routing/nl_message.h"

namespace quasar::routing {

inline constexpr char kMacvlanLegPrefix[] = "qmv-";

// "qmv-<parent>"; a parent name longer than 11 characters is cut to 6 and followed by 5 hex
// digits of its hash, so the name fits IFNAMSIZ - 1 and stays distinct per parent.
std::string macvlanLegName(const std::string& parent);

struct MacvlanSpec {
  std::string name;
  int parent_ifindex = 0;                       // in the socket's namespace
  std::optional<conf::Mac> mac = std::nullopt;  // unset: the kernel picks a random one
  int mtu = 0;                                  // 0: the parent's
  int netns_fd = -1;                            // >= 0: created directly in this namespace
};
// RTM_NEWLINK (create, exclusive; down) of kind macvlan, mode bridge.
NlMessage macvlanCreateMessage(const MacvlanSpec& spec);

struct MacvlanPodSpec {
  std::string parent;      // the uplink or its VLAN sub-interface, in the node's namespace
  std::string netns_path;  // the pod's namespace, for errors
  std::string pod_ifname;
  conf::Mac pod_mac{};
  conf::IpPrefix address;  // the pod's address with the pool's prefix length, e.g. 10.20.0.101/24
  std::optional<conf::IpAddress> gateway =
      std::nullopt;  // the pool's gateway: the pod's default route
  int mtu = 0;       // 0: the parent's
};

// Creates the pod's macvlan directly in `netns` (the pod's namespace, opened) under
// spec.pod_ifname, gives it the MAC, MTU and address, brings it up and adds the default route
// via the gateway. On any failure it removes the link it made (AlreadyExists when the name is
// taken: nothing is removed then). Does not touch the node leg: the caller adds the leg route.
absl::Status addMacvlanPodLink(NetlinkSocket& node_sock, const Fd& netns,
                               const MacvlanPodSpec& spec);
// Removes the pod's macvlan from `netns`. Idempotent: success when it is gone (its address and
// routes go with it).
absl::Status deleteMacvlanPodLink(const Fd& netns, const std::string& pod_ifname);

// Makes sure the node leg of `parent` exists (a macvlan of `parent`, bridge mode, arp_filter on,
// no IPv6 link-local address) and is up; a leg of that name on another parent is remade.
// Idempotent; returns the leg's index. FailedPrecondition when the name is taken by a link that
// is not a macvlan.
absl::StatusOr<int> ensureMacvlanLeg(NetlinkSocket& sock, const std::string& parent);
// Removes the leg of `parent` (and its routes). Idempotent.
absl::Status deleteMacvlanLeg(NetlinkSocket& sock, const std::string& parent);
// The /32 route to a local macvlan pod through the leg (protocol kRouteProtocol, as the veth
// pods' routes, so the reconcilers treat it as a pod route). Replaces a route to the same
// address elsewhere; idempotent.
absl::Status addMacvlanLegRoute(NetlinkSocket& sock, int leg_ifindex,
                                const conf::IpAddress& pod_ip);
// Removes that route (only through the leg). Idempotent.
absl::Status deleteMacvlanLegRoute(NetlinkSocket& sock, int leg_ifindex,
                                   const conf::IpAddress& pod_ip);

}  // namespace quasar::routing
