#pragma once
// Which route each remote pod-CIDR block needs, and why: a pure function of the local node, the
// other nodes and the routing mode (no I/O), so every decision is unit-tested and can be
// explained by `quasarctl routes`.
//   - a block of this node: a blackhole route, so traffic to unallocated local addresses never
//     leaks to the default route;
//   - a ready node on the uplink's own subnet (host-gw, *-crosssubnet): `block via nodeIP dev
//     uplink`, no encapsulation;
//   - a ready node across subnets: `block via nodeIP dev tunl0 onlink` (IPIP modes) or via the
//     VXLAN device (VXLAN modes); host-gw cannot reach it and says so;
//   - *-always modes encapsulate even on the same subnet.
// Over VXLAN a block is routed via the peer's VTEP address (the network address of its lowest
// block, see vxlan.h); over IPIP and directly via the peer's underlay address.
// One route per remote block, never per pod.

#include <optional>
#include <string>
#include <vector>

#include "conf/daemon_config.h"
#include "conf/ip.h"

namespace quasar::routing {

inline constexpr char kIpipDevice[] = "tunl0";
inline constexpr char kVxlanDevice[] = "quasar.vxlan";

struct PeerNode {
  std::string name;
  conf::IpAddress ip;
  std::vector<conf::IpPrefix> blocks;
  bool ready = false;
};

struct LocalNode {
  std::string name;
  std::string uplink;
  conf::IpPrefix uplink_subnet;
  std::vector<conf::IpPrefix> blocks;
  std::optional<conf::IpAddress> ip;  // underlay address (the VXLAN source)
  int uplink_mtu = 1500;
};

enum class Path { kBlackhole, kDirect, kIpip, kVxlan, kUnreachable };
std::string_view pathName(Path p);

struct PlannedRoute {
  conf::IpPrefix dst;
  Path path = Path::kDirect;
  std::optional<conf::IpAddress> via;
  std::string device;  // empty for blackholes and unreachable
  bool onlink = false;
  std::string node;    // the node the block belongs to
  std::string reason;  // why this path
};

// The VTEP address of a node: the network address of its lowest block; nullopt without blocks.
std::optional<conf::IpAddress> vtepAddress(const std::vector<conf::IpPrefix>& blocks);

std::vector<PlannedRoute> planRoutes(const LocalNode& local, const std::vector<PeerNode>& peers,
                                     conf::RoutingMode mode);

}  // namespace quasar::routing
