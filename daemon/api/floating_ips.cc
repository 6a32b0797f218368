#include "daemon/api/floating_ips.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "routing/macvlan.h"
#include "routing/netlink_socket.h"
#include "routing/proxy_neighbour.h"
#include "routing/rtnl.h"
#include "routing/vlan.h"

namespace quasar::daemon {
namespace {

namespace fl = ipam::floating;

std::string deviceFor(const std::string& uplink, const fl::Pool& pool) {
  return pool.vlan == 0 ? uplink : routing::vlanLinkName(uplink, static_cast<uint16_t>(pool.vlan));
}

}  // namespace

FloatingIps::FloatingIps(fl::FloatingSource& source, std::string uplink, WorkloadResolver resolve)
    : source_(source), uplink_(std::move(uplink)), resolve_(std::move(resolve)) {}

bool FloatingIps::hasPools() const { return !source_.allocator().pools().empty(); }

absl::StatusOr<AddressChoice> FloatingIps::choose(
    const std::map<std::string, std::string>& annotations,
    const std::vector<conf::IpAddress>& requested_ips, const ipam::PodRef& pod,
    const objects::Pod* known) const {
  // An ordinary ADD needs neither: the pools only for a requested address, the workload (a
  // walk of the owner chain) only for a floating pod.
  // Until the pools are known (quasard just started, its object view still loading) a floating
  // or requested address cannot be placed: "try again" (11), not "no pool" (105).
  const bool ready = !pools_ready_ || pools_ready_();
  auto not_ready = [] {
    return absl::UnavailableError(
        "the FloatingIPPools are not loaded yet (quasard's object view is still syncing); try "
        "again");
  };
  std::vector<fl::Pool> pools;
  if (!requested_ips.empty()) {
    if (!ready) return not_ready();
    pools = source_.allocator().pools();
  }
  auto choice =
      chooseAddressSource(annotations, requested_ips, pools, [&]() -> fl::WorkloadRef {
        fl::WorkloadRef workload;
        if (resolve_) workload = resolve_(pod, known);
        if (workload.empty()) workload = {fl::WorkloadKind::kPod, pod.namespace_, pod.name, pod.uid};
        return workload;
      });
  if (choice.ok() && choice->source == fl::FloatingSource::kName && !ready) return not_ready();
  return choice;
}

absl::Status FloatingIps::describe(const ipam::Allocation& a,
                                   quasar::api::v1::Underlay* out) const {
  if (a.ips.size() != 1) return absl::InternalError("a floating allocation holds one address");
  auto pool = source_.poolOf(a.ips.front());
  if (!pool) {
    return absl::FailedPreconditionError(
        absl::StrCat("no FloatingIPPool holds ", a.ips.front().toString(), " any more"));
  }
  if (uplink_.empty()) {
    return absl::FailedPreconditionError("this node has no uplink for floating addresses");
  }
  if (pool->vlan != 0) {
    auto sock = routing::NetlinkSocket::open();
    if (!sock.ok()) return sock.status();
    auto vlan = routing::ensureVlanLink(*sock, uplink_, static_cast<uint16_t>(pool->vlan));
    if (!vlan.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("pool ", pool->name, ": VLAN ", pool->vlan,
                                                        " on ", uplink_, ": ",
                                                        vlan.status().message()));
    }
    // The pods' replies to hosts of the VLAN's subnet leave tagged: the subnet is on-link
    // through the VLAN device (the node has no address there; the untagged uplink's default
    // route would take them otherwise).
    routing::Route on_link;
    on_link.dst = pool->subnet;
    on_link.ifindex = *vlan;
    on_link.scope = routing::kScopeLink;
    if (auto s = routing::Rtnl(*sock).addRoute(on_link, /*replace=*/true); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "pool ", pool->name, ": route ", pool->subnet.toString(), " via VLAN ", pool->vlan,
          ": ", s.message()));
    }
  }
  out->set_pool(pool->name);
  out->set_mode(pool->mode == fl::Mode::kMacvlan ? "macvlan" : "veth");
  out->set_device(deviceFor(uplink_, *pool));
  out->set_prefix_length(static_cast<uint32_t>(pool->subnet.length()));
  if (pool->gateway) out->set_gateway(pool->gateway->toString());
  out->set_vlan(static_cast<uint32_t>(pool->vlan));
  return absl::OkStatus();
}

std::string FloatingIps::released(const ipam::Allocation& a) const {
  if (a.source != fl::FloatingSource::kName || a.ips.size() != 1) return "";
  quasar::api::v1::Underlay u;
  if (auto s = describe(a, &u); !s.ok()) {
    spdlog::warn("event=floating-cleanup-skipped ip={} error=\"{}\"", a.ips.front().toString(),
                 std::string(s.message()));
    return "";
  }
  auto sock = routing::NetlinkSocket::open();
  absl::Status s = sock.status();
  if (sock.ok()) {
    if (u.mode() == "macvlan") {
      auto leg = sock->linkIndex(routing::macvlanLegName(u.device()));
      s = leg.ok() ? routing::deleteMacvlanLegRoute(*sock, *leg, a.ips.front())
                   : absl::OkStatus();  // no leg: no route through it
    } else {
      auto index = sock->linkIndex(u.device());
      s = index.status();
      if (index.ok()) s = routing::deleteProxyNeighbour(*sock, *index, a.ips.front());
    }
  }
  if (!s.ok()) {
    spdlog::warn("event=floating-cleanup-failed ip={} mode={} device={} error=\"{}\"",
                 a.ips.front().toString(), u.mode(), u.device(), std::string(s.message()));
  }
  return u.mode();
}

absl::StatusOr<int> FloatingIps::removeStaleUnderlay(
    const std::function<absl::StatusOr<std::set<conf::IpAddress>>()>& mine) const {
  auto sock = routing::NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  routing::Rtnl rtnl(*sock);
  auto proxies = routing::listProxyNeighbours(*sock, conf::Family::kV4, 0);
  if (!proxies.ok()) return proxies.status();
  auto links = rtnl.listLinks();
  if (!links.ok()) return links.status();
  std::set<int> legs;
  for (const auto& l : *links) {
    if (l.kind == "macvlan" && l.name.starts_with(routing::kMacvlanLegPrefix)) legs.insert(l.index);
  }
  std::vector<routing::RouteInfo> routes;
  if (!legs.empty()) {
    auto all = rtnl.listRoutes(conf::Family::kV4);
    if (!all.ok()) return all.status();
    routes = std::move(*all);
  }
  // Read after the kernel: an entry an ADD made since has its lease in `held`.
  auto held = mine();
  if (!held.ok()) return held.status();
  auto stale = [&](const conf::IpAddress& ip) {
    return !held->contains(ip) && source_.poolOf(ip).has_value();
  };
  int removed = 0;
  for (const auto& n : *proxies) {
    if (n.protocol != routing::kRouteProtocol || !n.dst || !stale(*n.dst)) continue;
    if (auto s = routing::deleteProxyNeighbour(*sock, n.ifindex, *n.dst); !s.ok()) return s;
    spdlog::info("event=floating-stale-proxy-removed ip={} ifindex={}", n.dst->toString(),
                 n.ifindex);
    ++removed;
  }
  for (const auto& r : routes) {
    if (!legs.contains(r.oif) || r.protocol != routing::kRouteProtocol ||
        r.dst.length() != 32 || !stale(r.dst.address())) {
      continue;
    }
    if (auto s = routing::deleteMacvlanLegRoute(*sock, r.oif, r.dst.address()); !s.ok()) return s;
    spdlog::info("event=floating-stale-leg-route-removed ip={}", r.dst.address().toString());
    ++removed;
  }
  return removed;
}

}  // namespace quasar::daemon
