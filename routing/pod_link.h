#pragma once
// The routed pod data path (as Calico and Galaxy build it): a veth pair whose node end has no
// address, a /32 route to the pod through it and proxy ARP on it; inside the pod, the address as
// a /32 and a default route via 169.254.1.1 on-link, with a permanent neighbour entry for it so
// the pod never has to ARP for its gateway.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "conf/net_conf.h"

namespace quasar::routing {

// Every node-side veth carries this MAC (as Calico's do); the pod's neighbour entry for the
// gateway points at it, so no lookup is needed.
inline constexpr conf::Mac kHostVethMac = {0xee, 0xee, 0xee, 0xee, 0xee, 0xee};
inline constexpr char kPodGatewayV4[] = "169.254.1.1";
inline constexpr char kHostVethPrefix[] = "qsr";

// "qsr" + 11 hex digits of a hash of (container ID, ifname): unique per attachment, at most 15
// characters (IFNAMSIZ - 1), and computable by DEL without any state.
std::string hostVethName(const conf::Attachment& attachment);
// A locally administered MAC derived from the pod's IPv4 address (0a:58:a.b.c.d).
conf::Mac podMacFor(const conf::IpAddress& ip);

struct PodLinkSpec {
  std::string netns_path;
  std::string host_ifname;
  std::string pod_ifname;
  std::vector<conf::IpAddress> ips;
  int mtu = 1500;
  conf::Mac pod_mac{};
};

// Builds the data path. On failure everything it created is removed again. AlreadyExists when
// the node-side or pod-side interface exists; NotFound when the netns is gone.
absl::Status createPodLink(const PodLinkSpec& spec);
// Removes the node-side veth (the kernel removes its peer and the routes through it).
// Succeeds when it does not exist.
absl::Status deletePodLink(const std::string& host_ifname);
// Verifies both ends, the addresses and the routes. FailedPrecondition naming what differs.
absl::Status checkPodLink(const PodLinkSpec& spec);
// Names of node-side veths in the calling namespace that carry quasar's prefix.
absl::StatusOr<std::vector<std::string>> listHostVeths();

}  // namespace quasar::routing
