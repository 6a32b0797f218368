#include "routing/eni_interface.h"

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <array>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace quasar::routing {
namespace {

// Kinds of links that carry the MAC of another (their lower device or a member).
bool sharesAnotherLinksMac(const std::string& kind) {
  constexpr std::array<std::string_view, 7> kUpper = {"vlan",   "macvlan", "macvtap", "ipvlan",
                                                      "bridge", "bond",    "team"};
  return std::find(kUpper.begin(), kUpper.end(), kind) != kUpper.end();
}

std::string describe(const EniSpec& eni) {
  return absl::StrCat("ENI ", conf::macToString(eni.mac), " (device index ", eni.device_index, ")");
}

absl::Status withContext(const absl::Status& s, const EniSpec& eni) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat(describe(eni), ": ", s.message()));
}

// The link's IPv4 addresses become exactly `primary`, added without its prefix route.
absl::Status setPrimaryAddress(Rtnl& rtnl, NetlinkSocket& sock, int ifindex,
                               const conf::IpPrefix& primary) {
  auto addrs = rtnl.listAddresses(conf::Family::kV4);
  if (!addrs.ok()) return addrs.status();
  bool present = false;
  for (const auto& a : *addrs) {
    if (a.ifindex != ifindex) continue;
    if (a.prefix == primary) {
      present = true;
    } else if (auto s = rtnl.deleteAddress(ifindex, a.prefix); !s.ok() && !absl::IsNotFound(s)) {
      return s;
    }
  }
  if (present) return absl::OkStatus();
  auto m = addressAddMessage(ifindex, primary, IFA_F_NOPREFIXROUTE);
  auto s = sock.request(m, absl::StrCat("add address ", primary.toString()));
  return absl::IsAlreadyExists(s) ? absl::OkStatus() : s;
}

// Removes main-table routes to `subnet` through link `ifindex` (whoever added them): the
// subnet is reached through the ENI's own table only.
absl::Status removeMainSubnetRoutes(Rtnl& rtnl, int ifindex, const conf::IpPrefix& subnet) {
  auto routes = rtnl.listRoutes(subnet.family());
  if (!routes.ok()) return routes.status();
  for (const auto& r : *routes) {
    if (r.table != RT_TABLE_MAIN || r.oif != ifindex || r.dst != subnet) continue;
    if (auto s = rtnl.deleteRoute(r); !s.ok() && !absl::IsNotFound(s)) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LinkInfo> findLinkByMac(NetlinkSocket& sock, const conf::Mac& mac) {
  auto links = Rtnl(sock).listLinks();
  if (!links.ok()) return links.status();
  std::vector<LinkInfo> found;
  for (auto& l : *links) {
    if (l.mac == mac && !sharesAnotherLinksMac(l.kind)) found.push_back(std::move(l));
  }
  if (found.empty()) {
    return absl::NotFoundError(absl::StrCat("no link has MAC ", conf::macToString(mac)));
  }
  if (found.size() > 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "links ",
        absl::StrJoin(found, ", ",
                      [](std::string* out, const LinkInfo& l) { out->append(l.name); }),
        " all have MAC ", conf::macToString(mac)));
  }
  return std::move(found.front());
}

absl::StatusOr<EniLink> setUpEni(NetlinkSocket& sock, const EniSpec& eni) {
  if (eni.device_index <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(describe(eni), ": the primary ENI is the node's own, not quasar's"));
  }
  // A subnet has its network address, the router (+1) and the ENI's: /30 at most.
  if (eni.primary.family() != conf::Family::kV4 || eni.primary.length() > 30) {
    return absl::InvalidArgumentError(absl::StrCat(
        describe(eni), ": primary ", eni.primary.toString(), " is not an IPv4 subnet address"));
  }
  auto link = findLinkByMac(sock, eni.mac);
  if (!link.ok()) return withContext(link.status(), eni);
  Rtnl rtnl(sock);
  EniLink out{link->index, link->name, eniTable(eni.device_index), {}};
  auto settings = linkSetMessage(
      {.ifindex = out.ifindex, .up = true, .mtu = eni.mtu, .rp_filter = eni.rp_filter});
  if (auto s = sock.request(settings, absl::StrCat("set up ", out.name)); !s.ok()) {
    return withContext(s, eni);
  }
  if (auto s = setPrimaryAddress(rtnl, sock, out.ifindex, eni.primary); !s.ok()) {
    return withContext(s, eni);
  }
  if (auto s = removeMainSubnetRoutes(rtnl, out.ifindex, eni.primary.network()); !s.ok()) {
    return withContext(s, eni);
  }
  auto routes = reconcileTableRoutes(sock, conf::Family::kV4, out.table, kNodeRouteProtocol,
                                     planEniTableRoutes(eni, out.ifindex));
  if (!routes.ok()) return withContext(routes.status(), eni);
  out.routes = *routes;
  return out;
}

absl::Status tearDownEni(NetlinkSocket& sock, const EniSpec& eni) {
  auto emptied = reconcileTableRoutes(sock, conf::Family::kV4, eniTable(eni.device_index),
                                      kNodeRouteProtocol, {});
  if (!emptied.ok()) return withContext(emptied.status(), eni);
  auto link = findLinkByMac(sock, eni.mac);
  if (absl::IsNotFound(link.status())) return absl::OkStatus();
  if (!link.ok()) return withContext(link.status(), eni);
  Rtnl rtnl(sock);
  auto addrs = rtnl.listAddresses(conf::Family::kV4);
  if (!addrs.ok()) return withContext(addrs.status(), eni);
  for (const auto& a : *addrs) {
    if (a.ifindex != link->index || a.prefix != eni.primary) continue;
    if (auto s = rtnl.deleteAddress(a.ifindex, a.prefix); !s.ok() && !absl::IsNotFound(s)) {
      return withContext(s, eni);
    }
  }
  return absl::OkStatus();
}

}  // namespace quasar::routing
