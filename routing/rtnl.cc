#include "routing/rtnl.h"

#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>

#include <cstring>

#include "absl/strings/str_cat.h"

static_assert(quasar::routing::kScopeLink == RT_SCOPE_LINK);

namespace quasar::routing {
namespace {

int af(conf::Family f) { return f == conf::Family::kV4 ? AF_INET : AF_INET6; }

void putAddress(NlMessage& m, uint16_t type, const conf::IpAddress& a) {
  m.putBytes(type, a.data(), a.byteLength());
}

std::optional<conf::IpAddress> attrAddress(const nlattr* attr, int family) {
  const auto len = nl::attrPayloadLen(attr);
  const auto* p = static_cast<const uint8_t*>(nl::attrPayload(attr));
  if (family == AF_INET && len == 4) return conf::IpAddress::fromBytes(conf::Family::kV4, p);
  if (family == AF_INET6 && len == 16) return conf::IpAddress::fromBytes(conf::Family::kV6, p);
  return std::nullopt;
}

std::optional<conf::Mac> attrMac(const nlattr* attr) {
  if (nl::attrPayloadLen(attr) != 6) return std::nullopt;
  conf::Mac mac;
  std::memcpy(mac.data(), nl::attrPayload(attr), 6);
  return mac;
}

// The family header after the netlink header (ifinfomsg, rtmsg, ...); nullptr when the message
// is too short to hold one.
template <typename T>
const T* familyHeader(const nlmsghdr* nlh) {
  if (nlh->nlmsg_len < nl::kHeaderLen + sizeof(T)) return nullptr;
  return static_cast<const T*>(nl::payload(nlh));
}

// Collects a message's top-level attributes by type.
template <size_t N>
void collect(const nlmsghdr* nlh, size_t header_len, const nlattr* (&tb)[N]) {
  nl::forEachAttr(nlh, header_len, [&tb](const nlattr* attr) {
    const auto type = nl::attrType(attr);
    if (type < N) tb[type] = attr;
  });
}

}  // namespace

NlMessage vethCreateMessage(const VethSpec& spec) {
  NlMessage m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifi = m.putHeader<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  // This end comes up at creation (saving a round trip). The peer cannot: the kernel opens it
  // before the pair is linked and veth_open() then fails with ENOTCONN.
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  m.putString(IFLA_IFNAME, spec.name);
  m.putBytes(IFLA_ADDRESS, spec.mac.data(), spec.mac.size());
  m.putU32(IFLA_MTU, spec.mtu);
  // One queue each way per end. By default a veth gets one per possible CPU, each with its own
  // sysfs objects made at creation: on a many-core node that is most of the creation's cost,
  // for queues that only XDP would use.
  m.putU32(IFLA_NUM_TX_QUEUES, 1);
  m.putU32(IFLA_NUM_RX_QUEUES, 1);
  auto linkinfo = m.nestStart(IFLA_LINKINFO);
  m.putString(IFLA_INFO_KIND, "veth");
  auto data = m.nestStart(IFLA_INFO_DATA);
  auto peer = m.nestStart(VETH_INFO_PEER);
  auto* peer_ifi = m.putRaw<ifinfomsg>();
  peer_ifi->ifi_family = AF_UNSPEC;
  m.putString(IFLA_IFNAME, spec.peer_name);
  m.putBytes(IFLA_ADDRESS, spec.peer_mac.data(), spec.peer_mac.size());
  m.putU32(IFLA_MTU, spec.mtu);
  m.putU32(IFLA_NUM_TX_QUEUES, 1);
  m.putU32(IFLA_NUM_RX_QUEUES, 1);
  m.putU32(IFLA_NET_NS_FD, spec.peer_netns_fd);
  m.nestEnd(peer);
  m.nestEnd(data);
  m.nestEnd(linkinfo);
  return m;
}

NlMessage linkDeleteMessage(const std::string& name) {
  NlMessage m(RTM_DELLINK, 0);
  m.putHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  m.putString(IFLA_IFNAME, name);
  return m;
}

NlMessage linkGroupMessage(const std::string& name, uint32_t group) {
  NlMessage m(RTM_NEWLINK, 0);
  m.putHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  m.putString(IFLA_IFNAME, name);
  m.putU32(IFLA_GROUP, group);
  return m;
}

NlMessage linkGroupMessage(int ifindex, uint32_t group) {
  NlMessage m(RTM_NEWLINK, 0);
  auto* ifi = m.putHeader<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  m.putU32(IFLA_GROUP, group);
  return m;
}

NlMessage groupDeleteMessage(uint32_t group) {
  NlMessage m(RTM_DELLINK, 0);
  m.putHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;  // ifi_index 0: the group selects
  m.putU32(IFLA_GROUP, group);
  return m;
}

NlMessage linkSetMessage(const LinkSettings& ls) {
  NlMessage m(RTM_NEWLINK, 0);
  auto* ifi = m.putHeader<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ls.ifindex;
  if (ls.up) {
    ifi->ifi_flags = *ls.up ? IFF_UP : 0;
    ifi->ifi_change = IFF_UP;
  }
  if (ls.mtu > 0) m.putU32(IFLA_MTU, ls.mtu);
  const bool inet_conf = ls.proxy_arp || ls.arp_filter || ls.rp_filter;
  if (inet_conf || ls.no_ipv6_link_local) {
    const auto af_spec = m.nestStart(IFLA_AF_SPEC);
    if (inet_conf) {
      const auto inet = m.nestStart(AF_INET);
      const auto conf = m.nestStart(IFLA_INET_CONF);
      if (ls.proxy_arp) m.putU32(IPV4_DEVCONF_PROXY_ARP, 1);
      if (ls.arp_filter) m.putU32(IPV4_DEVCONF_ARPFILTER, 1);
      if (ls.rp_filter) m.putU32(IPV4_DEVCONF_RP_FILTER, static_cast<uint32_t>(*ls.rp_filter));
      m.nestEnd(conf);
      m.nestEnd(inet);
    }
    if (ls.no_ipv6_link_local) {
      const auto inet6 = m.nestStart(AF_INET6);
      m.putU8(IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
      m.nestEnd(inet6);
    }
    m.nestEnd(af_spec);
  }
  return m;
}

NlMessage linkUpMessage(int ifindex, int mtu) {
  return linkSetMessage({.ifindex = ifindex, .up = true, .mtu = mtu});
}

NlMessage linkMtuMessage(int ifindex, int mtu) {
  return linkSetMessage({.ifindex = ifindex, .mtu = mtu});
}

NlMessage linkGetMessage(const std::string& name) {
  NlMessage m(RTM_GETLINK, 0);
  m.putHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  m.putString(IFLA_IFNAME, name);
  return m;
}

NlMessage linkDumpMessage() {
  NlMessage m(RTM_GETLINK, 0);
  m.putHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  m.putU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  return m;
}

NlMessage addressAddMessage(int ifindex, const conf::IpPrefix& prefix, uint32_t flags) {
  NlMessage m(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifa = m.putHeader<ifaddrmsg>();
  ifa->ifa_family = af(prefix.family());
  ifa->ifa_prefixlen = prefix.length();
  ifa->ifa_index = ifindex;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  putAddress(m, IFA_LOCAL, prefix.address());
  putAddress(m, IFA_ADDRESS, prefix.address());
  if (flags) m.putU32(IFA_FLAGS, flags);
  return m;
}

NlMessage addressDeleteMessage(int ifindex, const conf::IpPrefix& prefix) {
  NlMessage m(RTM_DELADDR, 0);
  auto* ifa = m.putHeader<ifaddrmsg>();
  ifa->ifa_family = af(prefix.family());
  ifa->ifa_prefixlen = prefix.length();
  ifa->ifa_index = ifindex;
  putAddress(m, IFA_LOCAL, prefix.address());
  return m;
}

NlMessage routeAddMessage(const Route& r, bool replace) {
  NlMessage m(RTM_NEWROUTE, NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL));
  auto* rtm = m.putHeader<rtmsg>();
  rtm->rtm_family = af(r.dst.family());
  rtm->rtm_dst_len = r.dst.length();
  rtm->rtm_table = r.table < 256 ? r.table : RT_TABLE_UNSPEC;
  rtm->rtm_protocol = r.protocol;
  rtm->rtm_scope = r.scope;
  rtm->rtm_type = r.blackhole ? RTN_BLACKHOLE : RTN_UNICAST;
  if (r.onlink) rtm->rtm_flags |= RTNH_F_ONLINK;
  if (r.table >= 256) m.putU32(RTA_TABLE, r.table);
  putAddress(m, RTA_DST, r.dst.network().address());
  if (r.gateway) putAddress(m, RTA_GATEWAY, *r.gateway);
  if (r.ifindex) m.putU32(RTA_OIF, r.ifindex);
  if (r.source) putAddress(m, RTA_PREFSRC, *r.source);
  return m;
}

NlMessage routeDeleteMessage(const RouteInfo& r) {
  NlMessage m(RTM_DELROUTE, 0);
  auto* rtm = m.putHeader<rtmsg>();
  rtm->rtm_family = af(r.dst.family());
  rtm->rtm_dst_len = r.dst.length();
  rtm->rtm_table = r.table < 256 ? r.table : RT_TABLE_UNSPEC;
  rtm->rtm_protocol = r.protocol;
  rtm->rtm_type = r.type;
  rtm->rtm_scope = RT_SCOPE_NOWHERE;  // any scope
  if (r.table >= 256) m.putU32(RTA_TABLE, r.table);
  putAddress(m, RTA_DST, r.dst.network().address());
  // Only the route through that link: another link may have one to the same destination.
  if (r.oif) m.putU32(RTA_OIF, static_cast<uint32_t>(r.oif));
  return m;
}

NlMessage neighbourAddMessage(int ifindex, const conf::IpAddress& ip, const conf::Mac& mac) {
  NlMessage m(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE);
  auto* nd = m.putHeader<ndmsg>();
  nd->ndm_family = af(ip.family());
  nd->ndm_ifindex = ifindex;
  nd->ndm_state = NUD_PERMANENT;
  putAddress(m, NDA_DST, ip);
  m.putBytes(NDA_LLADDR, mac.data(), mac.size());
  return m;
}

NlMessage neighbourDeleteMessage(const NeighbourInfo& n) {
  NlMessage m(RTM_DELNEIGH, 0);
  auto* nd = m.putHeader<ndmsg>();
  nd->ndm_family = n.family;
  nd->ndm_ifindex = n.ifindex;
  nd->ndm_flags = n.flags & NTF_SELF;
  if (n.dst) putAddress(m, NDA_DST, *n.dst);
  if (n.lladdr) m.putBytes(NDA_LLADDR, n.lladdr->data(), n.lladdr->size());
  return m;
}

std::optional<NeighbourInfo> parseNeighbour(const nlmsghdr* nlh) {
  if (nlh->nlmsg_type != RTM_NEWNEIGH) return std::nullopt;
  const auto* nd = familyHeader<ndmsg>(nlh);
  if (!nd) return std::nullopt;
  const nlattr* tb[NDA_MAX + 1] = {};
  collect(nlh, sizeof(*nd), tb);
  NeighbourInfo n;
  n.ifindex = nd->ndm_ifindex;
  n.family = nd->ndm_family;
  n.state = nd->ndm_state;
  n.flags = nd->ndm_flags;
  if (tb[NDA_DST]) {
    // FDB entries carry the underlay address (IPv4 here) as their destination.
    const int fam = nl::attrPayloadLen(tb[NDA_DST]) == 16 ? AF_INET6 : AF_INET;
    n.dst = attrAddress(tb[NDA_DST], fam);
  }
  if (tb[NDA_LLADDR]) n.lladdr = attrMac(tb[NDA_LLADDR]);
  if (tb[NDA_PROTOCOL] && nl::attrPayloadLen(tb[NDA_PROTOCOL]) == 1) {
    n.protocol = *static_cast<const uint8_t*>(nl::attrPayload(tb[NDA_PROTOCOL]));
  }
  return n;
}

std::optional<LinkInfo> parseLink(const nlmsghdr* nlh) {
  if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK) return std::nullopt;
  const auto* ifi = familyHeader<ifinfomsg>(nlh);
  if (!ifi) return std::nullopt;
  const nlattr* tb[IFLA_MAX + 1] = {};
  collect(nlh, sizeof(*ifi), tb);
  LinkInfo l;
  l.index = ifi->ifi_index;
  l.up = ifi->ifi_flags & IFF_UP;
  if (tb[IFLA_IFNAME] && nl::attrString(tb[IFLA_IFNAME])) l.name = nl::attrString(tb[IFLA_IFNAME]);
  if (tb[IFLA_MTU]) l.mtu = static_cast<int>(nl::attrU32(tb[IFLA_MTU]));
  if (tb[IFLA_ADDRESS]) l.mac = attrMac(tb[IFLA_ADDRESS]);
  if (tb[IFLA_LINK]) l.link = static_cast<int>(nl::attrU32(tb[IFLA_LINK]));
  if (tb[IFLA_LINKINFO]) {
    nl::forEachNested(tb[IFLA_LINKINFO], [&l](const nlattr* attr) {
      if (nl::attrType(attr) == IFLA_INFO_KIND && nl::attrString(attr)) {
        l.kind = nl::attrString(attr);
      }
    });
  }
  return l;
}

std::optional<AddressInfo> parseAddress(const nlmsghdr* nlh) {
  if (nlh->nlmsg_type != RTM_NEWADDR) return std::nullopt;
  const auto* ifa = familyHeader<ifaddrmsg>(nlh);
  if (!ifa) return std::nullopt;
  const nlattr* tb[IFA_MAX + 1] = {};
  collect(nlh, sizeof(*ifa), tb);
  const nlattr* a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
  if (!a) return std::nullopt;
  auto ip = attrAddress(a, ifa->ifa_family);
  if (!ip) return std::nullopt;
  return AddressInfo{static_cast<int>(ifa->ifa_index), conf::IpPrefix(*ip, ifa->ifa_prefixlen)};
}

std::optional<RouteInfo> parseRoute(const nlmsghdr* nlh) {
  if (nlh->nlmsg_type != RTM_NEWROUTE && nlh->nlmsg_type != RTM_DELROUTE) return std::nullopt;
  const auto* rtm = familyHeader<rtmsg>(nlh);
  if (!rtm) return std::nullopt;
  const nlattr* tb[RTA_MAX + 1] = {};
  collect(nlh, sizeof(*rtm), tb);
  RouteInfo r;
  const conf::Family family = rtm->rtm_family == AF_INET ? conf::Family::kV4 : conf::Family::kV6;
  conf::IpAddress dst = conf::IpAddress::fromInt(family, 0);
  if (tb[RTA_DST]) {
    auto d = attrAddress(tb[RTA_DST], rtm->rtm_family);
    if (!d) return std::nullopt;
    dst = *d;
  }
  r.dst = conf::IpPrefix(dst, rtm->rtm_dst_len);
  if (tb[RTA_GATEWAY]) r.gateway = attrAddress(tb[RTA_GATEWAY], rtm->rtm_family);
  if (tb[RTA_OIF]) r.oif = static_cast<int>(nl::attrU32(tb[RTA_OIF]));
  if (tb[RTA_PREFSRC]) r.prefsrc = attrAddress(tb[RTA_PREFSRC], rtm->rtm_family);
  r.protocol = rtm->rtm_protocol;
  r.scope = rtm->rtm_scope;
  r.type = rtm->rtm_type;
  r.flags = rtm->rtm_flags;
  r.table = tb[RTA_TABLE] ? nl::attrU32(tb[RTA_TABLE]) : rtm->rtm_table;
  return r;
}

absl::Status Rtnl::createVeth(const VethSpec& spec) {
  auto m = vethCreateMessage(spec);
  return sock_.request(m, absl::StrCat("create veth ", spec.name, " (peer ", spec.peer_name, ")"));
}

absl::Status Rtnl::deleteLink(const std::string& name) {
  auto m = linkDeleteMessage(name);
  return sock_.request(m, absl::StrCat("delete link ", name));
}

absl::Status Rtnl::setLinkUp(int ifindex, int mtu) {
  auto m = linkUpMessage(ifindex, mtu);
  return sock_.request(m, absl::StrCat("set link ", ifindex, " up"));
}

absl::Status Rtnl::setLinkMtu(int ifindex, int mtu) {
  auto m = linkMtuMessage(ifindex, mtu);
  return sock_.request(m, absl::StrCat("set link ", ifindex, " mtu ", mtu));
}

absl::StatusOr<LinkInfo> Rtnl::getLink(const std::string& name) {
  auto m = linkGetMessage(name);
  std::optional<LinkInfo> found;
  auto s = sock_.request(m, absl::StrCat("get link ", name),
                         [&](const nlmsghdr* nlh) { found = parseLink(nlh); });
  if (!s.ok()) return s;
  if (!found) return absl::NotFoundError(absl::StrCat("get link ", name, ": no answer"));
  return *found;
}

absl::StatusOr<std::vector<LinkInfo>> Rtnl::listLinks() {
  auto m = linkDumpMessage();
  std::vector<LinkInfo> out;
  auto s = sock_.dump(
      m,
      [&](const nlmsghdr* nlh) {
        if (auto l = parseLink(nlh)) out.push_back(std::move(*l));
      },
      "list links");
  if (!s.ok()) return s;
  return out;
}

absl::Status Rtnl::addAddress(int ifindex, const conf::IpPrefix& prefix) {
  auto m = addressAddMessage(ifindex, prefix);
  return sock_.request(m, absl::StrCat("add address ", prefix.toString()));
}

absl::Status Rtnl::deleteAddress(int ifindex, const conf::IpPrefix& prefix) {
  auto m = addressDeleteMessage(ifindex, prefix);
  return sock_.request(m, absl::StrCat("delete address ", prefix.toString()));
}

absl::Status Rtnl::setOnlyAddress(int ifindex, const conf::IpPrefix& prefix) {
  auto addrs = listAddresses(prefix.family());
  if (!addrs.ok()) return addrs.status();
  bool present = false;
  for (const auto& a : *addrs) {
    if (a.ifindex != ifindex) continue;
    if (a.prefix == prefix) {
      present = true;
    } else if (auto s = deleteAddress(ifindex, a.prefix); !s.ok() && !absl::IsNotFound(s)) {
      return s;
    }
  }
  if (present) return absl::OkStatus();
  auto s = addAddress(ifindex, prefix);
  return absl::IsAlreadyExists(s) ? absl::OkStatus() : s;
}

absl::Status Rtnl::deleteRoute(const RouteInfo& route) {
  auto m = routeDeleteMessage(route);
  return sock_.request(m, absl::StrCat("delete route ", route.dst.toString()));
}

absl::Status Rtnl::addRoute(const Route& route, bool replace) {
  auto m = routeAddMessage(route, replace);
  return sock_.request(m, absl::StrCat("add route ", route.dst.toString(),
                                       route.gateway ? " via " + route.gateway->toString() : ""));
}

absl::Status Rtnl::addPermanentNeighbour(int ifindex, const conf::IpAddress& ip,
                                         const conf::Mac& mac) {
  auto m = neighbourAddMessage(ifindex, ip, mac);
  return sock_.request(m, absl::StrCat("add neighbour ", ip.toString()));
}

absl::StatusOr<std::vector<AddressInfo>> Rtnl::listAddresses(conf::Family family) {
  NlMessage m(RTM_GETADDR, 0);
  m.putHeader<ifaddrmsg>()->ifa_family = af(family);
  std::vector<AddressInfo> out;
  auto s = sock_.dump(
      m,
      [&](const nlmsghdr* nlh) {
        if (auto a = parseAddress(nlh)) out.push_back(*a);
      },
      "list addresses");
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<NeighbourInfo>> Rtnl::listNeighbours(uint8_t family, int ifindex) {
  NlMessage m(RTM_GETNEIGH, 0);
  m.putHeader<ndmsg>()->ndm_family = family;
  std::vector<NeighbourInfo> out;
  auto s = sock_.dump(
      m,
      [&](const nlmsghdr* nlh) {
        auto n = parseNeighbour(nlh);
        if (n && n->ifindex == ifindex && n->family == family) out.push_back(*n);
      },
      "list neighbours");
  if (!s.ok()) return s;
  return out;
}

absl::Status Rtnl::deleteNeighbour(const NeighbourInfo& n) {
  auto m = neighbourDeleteMessage(n);
  return sock_.request(m, "delete neighbour");
}

absl::StatusOr<std::vector<RouteInfo>> Rtnl::listRoutes(conf::Family family) {
  NlMessage m(RTM_GETROUTE, 0);
  m.putHeader<rtmsg>()->rtm_family = af(family);
  std::vector<RouteInfo> out;
  auto s = sock_.dump(
      m,
      [&](const nlmsghdr* nlh) {
        if (auto r = parseRoute(nlh)) out.push_back(*r);
      },
      "list routes");
  if (!s.ok()) return s;
  return out;
}

}  // namespace quasar::routing
