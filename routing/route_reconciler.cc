#include "routing/route_reconciler.h"

#include <linux/rtnetlink.h>
#include <net/if.h>

#include <map>

#include "routing/rtnl.h"

namespace quasar::routing {

absl::StatusOr<ReconcileResult> reconcileRoutes(const std::vector<PlannedRoute>& planned) {
  auto sock = NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  Rtnl rtnl(*sock);
  auto routes = rtnl.listRoutes(conf::Family::kV4);
  if (!routes.ok()) return routes.status();
  std::map<conf::IpPrefix, RouteInfo> current;
  for (const auto& r : *routes) {
    if (r.protocol == kNodeRouteProtocol && r.table == RT_TABLE_MAIN) current[r.dst] = r;
  }
  ReconcileResult result;
  std::map<conf::IpPrefix, bool> wanted;
  std::map<std::string, unsigned> ifindex;  // one lookup per device, not per route
  for (const auto& p : planned) {
    if (p.path == Path::kUnreachable) {
      ++result.skipped;
      continue;
    }
    // Wanted even when its device cannot be looked up just now: a route through a device that
    // is really gone went with it, and one that exists must not be removed on a failed lookup.
    wanted[p.dst] = true;
    Route want;
    want.dst = p.dst;
    want.protocol = kNodeRouteProtocol;
    want.blackhole = p.path == Path::kBlackhole;
    if (!want.blackhole) {
      auto [it, fresh] = ifindex.try_emplace(p.device, 0);
      if (fresh) it->second = if_nametoindex(p.device.c_str());
      const unsigned idx = it->second;
      if (idx == 0) {
        ++result.skipped;
        continue;
      }
      want.ifindex = static_cast<int>(idx);
      want.gateway = p.via;
      want.onlink = p.onlink;
    }
    auto it = current.find(p.dst);
    if (it != current.end()) {
      const RouteInfo& have = it->second;
      const bool same = want.blackhole ? have.type == RTN_BLACKHOLE
                                       : have.type == RTN_UNICAST && have.gateway == want.gateway &&
                                             have.oif == want.ifindex &&
                                             bool(have.flags & RTNH_F_ONLINK) == want.onlink;
      if (same) {
        ++result.unchanged;
        continue;
      }
    }
    if (auto s = rtnl.addRoute(want, /*replace=*/true); !s.ok()) return s;
    ++result.added;
  }
  for (const auto& [dst, have] : current) {
    if (wanted.contains(dst)) continue;
    if (auto s = rtnl.deleteRoute(have); !s.ok() && !absl::IsNotFound(s)) return s;
    ++result.removed;
  }
  return result;
}

}  // namespace quasar::routing
