#include "routing/uplink.h"

#include <linux/rtnetlink.h>

#include "absl/strings/str_cat.h"
#include "routing/rtnl.h"

namespace quasar::routing {

absl::StatusOr<Uplink> findUplink(const std::string& name) {
  auto sock = NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  Rtnl rtnl(*sock);
  auto links = rtnl.listLinks();
  if (!links.ok()) return links.status();
  int index = 0;
  if (name.empty()) {
    auto routes = rtnl.listRoutes(conf::Family::kV4);
    if (!routes.ok()) return routes.status();
    for (const auto& r : *routes) {
      if (r.dst.length() == 0 && r.table == RT_TABLE_MAIN && r.oif != 0) index = r.oif;
    }
    if (index == 0) {
      return absl::NotFoundError("no IPv4 default route: set `uplink` in the daemon config");
    }
  }
  for (const auto& l : *links) {
    if ((name.empty() && l.index == index) || (!name.empty() && l.name == name)) {
      Uplink u{l.name, l.mtu, {}};
      auto addrs = rtnl.listAddresses(conf::Family::kV4);
      if (!addrs.ok()) return addrs.status();
      for (const auto& a : *addrs) {
        if (a.ifindex == l.index) u.addresses.push_back(a.prefix);
      }
      return u;
    }
  }
  return absl::NotFoundError(absl::StrCat("uplink interface ", name, " not found"));
}

}  // namespace quasar::routing
