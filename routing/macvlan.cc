#include "routing/macvlan.h"

#include <net/if.h>
// After net/if.h: linux/if_link.h brings no second definition of IFF_* then.
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "routing/netns.h"
#include "routing/rtnl.h"

namespace quasar::routing {
namespace {

// FNV-1a, 32 bit: stable across versions, which finding an existing leg by name relies on.
uint32_t fnv1a(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

absl::Status inPod(const MacvlanPodSpec& spec, const absl::Status& s) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat("in pod netns ", spec.netns_path, ": ", s.message()));
}

// A socket in the pod's namespace, opened from the calling thread's own (whichever it is).
absl::StatusOr<NetlinkSocket> podSocket(const Fd& netns) {
  auto home = openNetns("/proc/thread-self/ns/net");
  if (!home.ok()) return home.status();
  return openNetlinkSocketIn(netns, *home);
}

}  // namespace

std::string macvlanLegName(const std::string& parent) {
  constexpr size_t kRoom = IFNAMSIZ - 1 - (sizeof(kMacvlanLegPrefix) - 1);
  if (parent.size() <= kRoom) return absl::StrCat(kMacvlanLegPrefix, parent);
  return absl::StrCat(kMacvlanLegPrefix, parent.substr(0, kRoom - 5),
                      absl::StrFormat("%05x", fnv1a(parent) & 0xfffff));
}

NlMessage macvlanCreateMessage(const MacvlanSpec& spec) {
  NlMessage m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  m.putHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  m.putString(IFLA_IFNAME, spec.name);
  m.putU32(IFLA_LINK, static_cast<uint32_t>(spec.parent_ifindex));
  if (spec.mac) m.putBytes(IFLA_ADDRESS, spec.mac->data(), spec.mac->size());
  if (spec.mtu > 0) m.putU32(IFLA_MTU, static_cast<uint32_t>(spec.mtu));
  if (spec.netns_fd >= 0) m.putU32(IFLA_NET_NS_FD, static_cast<uint32_t>(spec.netns_fd));
  const auto linkinfo = m.nestStart(IFLA_LINKINFO);
  m.putString(IFLA_INFO_KIND, "macvlan");
  const auto data = m.nestStart(IFLA_INFO_DATA);
  m.putU32(IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE);
  m.nestEnd(data);
  m.nestEnd(linkinfo);
  return m;
}

absl::Status addMacvlanPodLink(NetlinkSocket& node_sock, const Fd& netns,
                               const MacvlanPodSpec& spec) {
  auto parent = node_sock.linkIndex(spec.parent);
  if (!parent.ok()) return parent.status();
  auto pod_sock = podSocket(netns);
  if (!pod_sock.ok()) return pod_sock.status();

  auto create = macvlanCreateMessage({.name = spec.pod_ifname,
                                      .parent_ifindex = *parent,
                                      .mac = spec.pod_mac,
                                      .mtu = spec.mtu,
                                      .netns_fd = netns.get()});
  if (auto s = node_sock.request(create, absl::StrCat("create macvlan ", spec.pod_ifname, " on ",
                                                      spec.parent, " in ", spec.netns_path));
      !s.ok()) {
    return s;
  }
  absl::Cleanup remove = [&] { Rtnl(*pod_sock).deleteLink(spec.pod_ifname).IgnoreError(); };

  auto idx = pod_sock->linkIndex(spec.pod_ifname);
  if (!idx.ok()) return inPod(spec, idx.status());
  std::vector<NetlinkSocket::Request> batch;
  // Settings before up: the kernel applies IFLA_AF_SPEC after bringing a link up.
  batch.push_back(
      {linkSetMessage(
           {.ifindex = *idx, .no_ipv6_link_local = spec.address.family() == conf::Family::kV4}),
       absl::StrCat("set up ", spec.pod_ifname)});
  batch.push_back({linkUpMessage(*idx), absl::StrCat("bring ", spec.pod_ifname, " up")});
  batch.push_back({addressAddMessage(*idx, spec.address),
                   absl::StrCat("add address ", spec.address.toString())});
  if (spec.gateway) {
    Route def;
    def.dst = conf::IpPrefix(conf::IpAddress::fromInt(spec.gateway->family(), 0), 0);
    def.gateway = *spec.gateway;
    def.ifindex = *idx;
    def.protocol = RTPROT_BOOT;  // inside the pod it is an ordinary static route
    batch.push_back({routeAddMessage(def, /*replace=*/true),
                     absl::StrCat("add default route via ", spec.gateway->toString())});
  }
  if (auto s = pod_sock->requestAll(batch); !s.ok()) return inPod(spec, s);
  std::move(remove).Cancel();
  return absl::OkStatus();
}

absl::Status deleteMacvlanPodLink(const Fd& netns, const std::string& pod_ifname) {
  auto pod_sock = podSocket(netns);
  if (!pod_sock.ok()) return pod_sock.status();
  auto s = Rtnl(*pod_sock).deleteLink(pod_ifname);
  return absl::IsNotFound(s) ? absl::OkStatus() : s;
}

absl::StatusOr<int> ensureMacvlanLeg(NetlinkSocket& sock, const std::string& parent) {
  auto parent_index = sock.linkIndex(parent);
  if (!parent_index.ok()) return parent_index.status();
  const std::string name = macvlanLegName(parent);
  Rtnl rtnl(sock);
  auto existing = rtnl.getLink(name);
  int idx = 0;
  if (existing.ok()) {
    if (existing->kind != "macvlan") {
      return absl::FailedPreconditionError(absl::StrCat(
          "link ", name, " exists and is not a macvlan (kind '", existing->kind, "')"));
    }
    if (existing->link == *parent_index) {
      idx = existing->index;
    } else if (auto s = rtnl.deleteLink(name); !s.ok() && !absl::IsNotFound(s)) {
      return s;  // a leg of a parent that was replaced: it is remade below
    }
  } else if (!absl::IsNotFound(existing.status())) {
    return existing.status();
  }
  if (idx == 0) {
    auto create = macvlanCreateMessage({.name = name, .parent_ifindex = *parent_index});
    auto s = sock.request(create, absl::StrCat("create macvlan leg ", name, " on ", parent));
    if (!s.ok() && !absl::IsAlreadyExists(s)) return s;  // made meanwhile: configure it the same
    auto index = sock.linkIndex(name);
    if (!index.ok()) return index.status();
    idx = *index;
  }
  // Every time, so a leg made by an older version (or changed by hand) is fixed too.
  auto settings = linkSetMessage({.ifindex = idx, .arp_filter = true, .no_ipv6_link_local = true});
  if (auto s = sock.request(settings, absl::StrCat("set up ", name)); !s.ok()) return s;
  if (auto s = rtnl.setLinkUp(idx); !s.ok()) return s;
  return idx;
}

absl::Status deleteMacvlanLeg(NetlinkSocket& sock, const std::string& parent) {
  const std::string name = macvlanLegName(parent);
  auto existing = Rtnl(sock).getLink(name);
  if (absl::IsNotFound(existing.status())) return absl::OkStatus();
  if (!existing.ok()) return existing.status();
  if (existing->kind != "macvlan") {
    return absl::FailedPreconditionError(
        absl::StrCat("link ", name, " is not a macvlan (kind '", existing->kind, "')"));
  }
  auto s = Rtnl(sock).deleteLink(name);
  return absl::IsNotFound(s) ? absl::OkStatus() : s;
}

absl::Status addMacvlanLegRoute(NetlinkSocket& sock, int leg_ifindex,
                                const conf::IpAddress& pod_ip) {
  Route r;
  r.dst = conf::IpPrefix::host(pod_ip);
  r.ifindex = leg_ifindex;
  r.scope = RT_SCOPE_LINK;
  r.protocol = kRouteProtocol;
  return Rtnl(sock).addRoute(r, /*replace=*/true);
}

absl::Status deleteMacvlanLegRoute(NetlinkSocket& sock, int leg_ifindex,
                                   const conf::IpAddress& pod_ip) {
  RouteInfo r;
  r.dst = conf::IpPrefix::host(pod_ip);
  r.protocol = kRouteProtocol;
  r.type = RTN_UNICAST;
  r.table = RT_TABLE_MAIN;
  auto m = routeDeleteMessage(r);
  m.putU32(RTA_OIF, static_cast<uint32_t>(leg_ifindex));  // only the route through the leg
  auto s = sock.request(m, absl::StrCat("delete route ", r.dst.toString(), " dev ", leg_ifindex));
  return absl::IsNotFound(s) ? absl::OkStatus() : s;
}

}  // namespace quasar::routing
