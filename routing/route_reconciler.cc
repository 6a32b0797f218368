#include "routing/route_reconciler.h"

#include <linux/rtnetlink.h>
#include <net/if.h>

#include <map>

namespace quasar::routing {
namespace {

// Whether the kernel's route is the wanted one in everything a replace would change.
bool sameRoute(const Route& want, const RouteInfo& have) {
  if (want.blackhole) return have.type == RTN_BLACKHOLE;
  return have.type == RTN_UNICAST && have.gateway == want.gateway && have.oif == want.ifindex &&
         bool(have.flags & RTNH_F_ONLINK) == want.onlink && have.scope == want.scope &&
         have.prefsrc == want.source;
}

}  // namespace

absl::StatusOr<ReconcileResult> reconcileTableRoutes(NetlinkSocket& sock, conf::Family family,
                                                     uint32_t table, uint8_t protocol,
                                                     const std::vector<Route>& wanted,
                                                     const std::set<conf::IpPrefix>& keep) {
  Rtnl rtnl(sock);
  auto routes = rtnl.listRoutes(family);
  if (!routes.ok()) return routes.status();
  std::map<conf::IpPrefix, RouteInfo> current;
  for (const auto& r : *routes) {
    if (r.protocol == protocol && r.table == table) current[r.dst] = r;
  }
  ReconcileResult result;
  std::set<conf::IpPrefix> wanted_dsts = keep;
  for (Route want : wanted) {
    want.table = table;
    want.protocol = protocol;
    wanted_dsts.insert(want.dst);
    auto it = current.find(want.dst);
    if (it != current.end() && sameRoute(want, it->second)) {
      ++result.unchanged;
      continue;
    }
    if (auto s = rtnl.addRoute(want, /*replace=*/true); !s.ok()) return s;
    ++result.added;
  }
  for (const auto& [dst, have] : current) {
    if (wanted_dsts.contains(dst)) continue;
    if (auto s = rtnl.deleteRoute(have); !s.ok() && !absl::IsNotFound(s)) return s;
    ++result.removed;
  }
  return result;
}

absl::StatusOr<ReconcileResult> reconcileRoutes(const std::vector<PlannedRoute>& planned) {
  auto sock = NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  ReconcileResult skipped;
  std::vector<Route> wanted;
  // Wanted even when its device cannot be looked up just now: a route through a device that is
  // really gone went with it, and one that exists must not be removed on a failed lookup.
  std::set<conf::IpPrefix> keep;
  std::map<std::string, unsigned> ifindex;  // one lookup per device, not per route
  for (const auto& p : planned) {
    if (p.path == Path::kUnreachable) {
      ++skipped.skipped;
      continue;
    }
    Route want;
    want.dst = p.dst;
    want.blackhole = p.path == Path::kBlackhole;
    if (!want.blackhole) {
      auto [it, fresh] = ifindex.try_emplace(p.device, 0);
      if (fresh) it->second = if_nametoindex(p.device.c_str());
      const unsigned idx = it->second;
      if (idx == 0) {
        ++skipped.skipped;
        keep.insert(p.dst);
        continue;
      }
      want.ifindex = static_cast<int>(idx);
      want.gateway = p.via;
      want.onlink = p.onlink;
    }
    wanted.push_back(std::move(want));
  }
  auto result = reconcileTableRoutes(*sock, conf::Family::kV4, RT_TABLE_MAIN, kNodeRouteProtocol,
                                     wanted, keep);
  if (!result.ok()) return result.status();
  result->skipped = skipped.skipped;
  return result;
}

}  // namespace quasar::routing
