#include "routing/route_planner.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace quasar::routing {

std::string_view pathName(Path p) {
  switch (p) {
    case Path::kBlackhole:
      return "blackhole";
    case Path::kDirect:
      return "host-gw";
    case Path::kIpip:
      return "ipip";
    case Path::kVxlan:
      return "vxlan";
    case Path::kUnreachable:
      return "unreachable";
  }
  return "?";
}

std::optional<conf::IpAddress> vtepAddress(const std::vector<conf::IpPrefix>& blocks) {
  if (blocks.empty()) return std::nullopt;
  return std::min_element(blocks.begin(), blocks.end())->network().address();
}

std::vector<PlannedRoute> planRoutes(const LocalNode& local, const std::vector<PeerNode>& peers,
                                     conf::RoutingMode mode) {
  using conf::RoutingMode;
  std::vector<PlannedRoute> out;
  for (const auto& b : local.blocks) {
    out.push_back({b, Path::kBlackhole, std::nullopt, "", false, local.name,
                   "local block: unallocated addresses are dropped here"});
  }
  const bool vxlan = conf::encapsulationOf(mode) == conf::Encapsulation::kVxlan;
  const bool always = conf::alwaysEncapsulates(mode);
  for (const auto& peer : peers) {
    if (peer.name == local.name || !peer.ready) continue;
    const bool same_subnet = local.uplink_subnet.contains(peer.ip);
    for (const auto& b : peer.blocks) {
      PlannedRoute r{b, Path::kDirect, peer.ip, local.uplink, false, peer.name, ""};
      if (same_subnet && !always) {
        r.reason = absl::StrCat(peer.ip.toString(), " is on the uplink's subnet ",
                                local.uplink_subnet.toString(), ": routed directly");
      } else if (mode == RoutingMode::kHostGw) {
        r.path = Path::kUnreachable;
        r.device.clear();
        r.reason = absl::StrCat("host-gw cannot reach ", peer.ip.toString(), ": not on ",
                                local.uplink_subnet.toString(), " (use ipip-crosssubnet)");
      } else {
        r.path = vxlan ? Path::kVxlan : Path::kIpip;
        r.device = vxlan ? kVxlanDevice : kIpipDevice;
        if (vxlan) r.via = vtepAddress(peer.blocks);
        r.onlink = true;
        r.reason = always ? absl::StrCat(routingModeName(mode), ": always encapsulated")
                          : absl::StrCat(peer.ip.toString(), " is across subnets: encapsulated");
      }
      out.push_back(std::move(r));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const PlannedRoute& a, const PlannedRoute& b) { return a.dst < b.dst; });
  return out;
}

}  // namespace quasar::routing
