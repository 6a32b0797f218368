#include "routing/pod_link.h"

#include <linux/rtnetlink.h>
#include <net/if.h>

#include <algorithm>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "routing/netlink_socket.h"
#include "routing/netns.h"
#include "routing/rtnl.h"
#include "routing/sysctl.h"

namespace quasar::routing {
namespace {

const conf::IpAddress& podGateway() {
  static const conf::IpAddress gw = *conf::IpAddress::parse(kPodGatewayV4);
  return gw;
}

bool allV4(const std::vector<conf::IpAddress>& ips) {
  for (const auto& ip : ips) {
    if (ip.family() != conf::Family::kV4) return false;
  }
  return true;
}

// Pod side, over a socket in the pod's namespace, in one batch: MTU (when it differs from the
// one the pair was created with), then up, addresses, gateway neighbour, default route (last, so
// that a default route already there fails nothing else). True when the default route is ours.
absl::StatusOr<bool> configurePodSide(NetlinkSocket& sock, const std::string& pod_ifname,
                                      const std::vector<conf::IpAddress>& ips, int mtu,
                                      int created_mtu, DefaultRoute default_route) {
  auto idx = sock.linkIndex(pod_ifname);
  if (!idx.ok()) return idx.status();
  std::vector<NetlinkSocket::Request> batch;
  // Settings first: the kernel applies IFLA_AF_SPEC after bringing a link up, too late to stop
  // the IPv6 link-local address.
  batch.push_back({linkSetMessage({.ifindex = *idx,
                                   .mtu = mtu != created_mtu ? mtu : 0,
                                   .no_ipv6_link_local = allV4(ips)}),
                   absl::StrCat("set up ", pod_ifname)});
  batch.push_back({linkUpMessage(*idx), absl::StrCat("bring ", pod_ifname, " up")});
  for (const auto& ip : ips) {
    batch.push_back({addressAddMessage(*idx, conf::IpPrefix::host(ip)),
                     absl::StrCat("add address ", ip.toString())});
  }
  batch.push_back({neighbourAddMessage(*idx, podGateway(), kHostVethMac),
                   absl::StrCat("add neighbour ", kPodGatewayV4)});
  if (default_route == DefaultRoute::kNone) {
    if (auto s = sock.requestAll(batch); !s.ok()) return s;
    return false;
  }
  Route def;
  def.dst = *conf::IpPrefix::parse("0.0.0.0/0");
  def.gateway = podGateway();
  def.ifindex = *idx;
  def.onlink = true;
  def.protocol = RTPROT_BOOT;  // inside the pod it is an ordinary static route
  batch.push_back({routeAddMessage(def, default_route == DefaultRoute::kReplace),
                   absl::StrCat("add default route via ", kPodGatewayV4)});
  std::vector<absl::Status> each;
  const absl::Status s = sock.requestAll(batch, &each);
  if (s.ok()) return true;
  // Only the default route failed, as it exists: another interface of the pod has it.
  if (default_route == DefaultRoute::kIfNone && each.size() == batch.size() &&
      absl::IsAlreadyExists(each.back()) &&
      std::all_of(each.begin(), each.end() - 1, [](const absl::Status& r) { return r.ok(); })) {
    return false;
  }
  return s;
}

// Node side, in one batch: MTU, proxy ARP (answers a pod that ARPs for its gateway anyway, e.g.
// after flushing its neighbours), and a /32 route to each pod address through the veth. Runs
// before the pod side brings the pair's carrier up.
absl::Status configureNodeSide(NetlinkSocket& sock, const std::string& host_ifname,
                               const std::vector<conf::IpAddress>& ips, int mtu, int created_mtu) {
  auto idx = sock.linkIndex(host_ifname);
  if (!idx.ok()) return idx.status();
  std::vector<NetlinkSocket::Request> batch;
  batch.push_back({linkSetMessage({.ifindex = *idx,
                                   .mtu = mtu != created_mtu ? mtu : 0,
                                   .proxy_arp = true,
                                   .no_ipv6_link_local = allV4(ips)}),
                   absl::StrCat("set up ", host_ifname)});
  for (const auto& ip : ips) {
    Route r;
    r.dst = conf::IpPrefix::host(ip);
    r.ifindex = *idx;
    r.scope = RT_SCOPE_LINK;
    batch.push_back({routeAddMessage(r), absl::StrCat("add route ", ip.toString(), "/32")});
  }
  return sock.requestAll(batch);
}

// FNV-1a, 64 bit, of "container/ifname": stable across versions and platforms, which DEL after an
// upgrade relies on.
uint64_t fnv1a(const conf::Attachment& a) {
  uint64_t h = 14695981039346656037ULL;
  auto mix = [&h](absl::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  };
  mix(a.container_id);
  mix("/");
  mix(a.ifname);
  return h;
}

}  // namespace

std::string hostVethName(const conf::Attachment& a) {
  return absl::StrCat(kHostVethPrefix, absl::StrFormat("%011x", fnv1a(a) >> 20));
}

conf::Mac podMacFor(const conf::Attachment& a) {
  const uint64_t h = fnv1a(a);
  return {0x0a,
          0x58,
          static_cast<uint8_t>(h >> 24),
          static_cast<uint8_t>(h >> 16),
          static_cast<uint8_t>(h >> 8),
          static_cast<uint8_t>(h)};
}

absl::StatusOr<std::unique_ptr<PodLinkBuilder>> PodLinkBuilder::start(Fd netns,
                                                                      const std::string& netns_path,
                                                                      std::string host_ifname,
                                                                      std::string pod_ifname,
                                                                      conf::Mac pod_mac) {
  auto node_sock = NetlinkSocket::open();
  if (!node_sock.ok()) return node_sock.status();
  auto home = node_sock->openNamespace();
  if (!home.ok()) return home.status();
  auto pod_sock = openNetlinkSocketIn(netns, *home);
  if (!pod_sock.ok()) return pod_sock.status();
  std::unique_ptr<PodLinkBuilder> b(
      new PodLinkBuilder(std::move(netns), std::move(*node_sock), std::move(*pod_sock)));
  b->netns_path_ = netns_path;
  b->host_ifname_ = std::move(host_ifname);
  b->pod_ifname_ = std::move(pod_ifname);
  b->pod_mac_ = pod_mac;
  return b;
}

PodLinkBuilder::~PodLinkBuilder() {
  if (created_ && !committed_) deletePodLink(host_ifname_).IgnoreError();
}

absl::Status PodLinkBuilder::create(int mtu) {
  VethSpec veth{host_ifname_, kHostVethMac, mtu, pod_ifname_, pod_mac_, netns_.get()};
  if (auto s = Rtnl(node_sock_).createVeth(veth); !s.ok()) return s;
  created_ = true;
  created_mtu_ = mtu;
  return absl::OkStatus();
}

absl::Status PodLinkBuilder::configure(const std::vector<conf::IpAddress>& ips, int mtu,
                                       DefaultRoute default_route) {
  if (!created_) return absl::FailedPreconditionError("configure() before create()");
  if (auto s = configureNodeSide(node_sock_, host_ifname_, ips, mtu, created_mtu_); !s.ok()) {
    return s;
  }
  auto pod = configurePodSide(pod_sock_, pod_ifname_, ips, mtu, created_mtu_, default_route);
  if (!pod.ok()) {
    const absl::Status& s = pod.status();
    return absl::Status(s.code(), absl::StrCat("in pod netns ", netns_path_, ": ", s.message()));
  }
  default_route_ = *pod;
  return absl::OkStatus();
}

absl::Status enableForwarding() {
  auto v = readSysctl("net/ipv4/ip_forward");
  if (v.ok() && *v == "1") return absl::OkStatus();
  return writeSysctl("net/ipv4/ip_forward", "1");
}

absl::Status deletePodLink(const std::string& host_ifname) {
  auto sock = NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  auto s = Rtnl(*sock).deleteLink(host_ifname);
  if (absl::IsNotFound(s)) return absl::OkStatus();
  return s;
}

namespace {

// One group deletion: `doom` moves each link into kDoomedLinkGroup (at most
// kMaxLinksPerGroupDelete of them); one result per request.
std::vector<absl::Status> deleteAsGroup(NetlinkSocket& sock,
                                        std::vector<NetlinkSocket::Request>& doom) {
  std::vector<absl::Status> results;
  sock.requestAll(doom, &results).IgnoreError();  // each link's result is in `results`
  bool any = false;
  for (auto& s : results) {
    if (absl::IsNotFound(s))
      s = absl::OkStatus();  // gone already (e.g. with its pod's netns)
    else
      any |= s.ok();
  }
  if (!any) return results;
  auto del = groupDeleteMessage(kDoomedLinkGroup);
  auto s = sock.request(del, absl::StrCat("delete link group ", kDoomedLinkGroup));
  if (absl::IsNotFound(s)) s = absl::OkStatus();  // its members went meanwhile
  if (!s.ok()) {
    for (auto& r : results) {
      if (r.ok()) r = s;
    }
  }
  return results;
}

// Deletes the links `doom(i)` names, for i < n, in groups of kMaxLinksPerGroupDelete.
template <typename Doom>
std::vector<absl::Status> deleteInGroups(size_t n, Doom doom) {
  auto sock = NetlinkSocket::open();
  if (!sock.ok()) return std::vector<absl::Status>(n, sock.status());
  std::vector<absl::Status> results;
  for (size_t at = 0; at < n; at += kMaxLinksPerGroupDelete) {
    std::vector<NetlinkSocket::Request> group;
    for (size_t i = at; i < std::min(n, at + kMaxLinksPerGroupDelete); ++i) {
      group.push_back(doom(i));
    }
    for (auto& s : deleteAsGroup(*sock, group)) results.push_back(std::move(s));
  }
  return results;
}

}  // namespace

std::vector<absl::Status> deletePodLinks(const std::vector<std::string>& host_ifnames) {
  return deleteInGroups(host_ifnames.size(), [&](size_t i) {
    const auto& name = host_ifnames[i];
    return NetlinkSocket::Request{
        linkGroupMessage(name, kDoomedLinkGroup),
        absl::StrCat("move link ", name, " to the group of links being deleted")};
  });
}

std::vector<absl::Status> deletePodLinksByIndex(const std::vector<int>& host_ifindexes) {
  return deleteInGroups(host_ifindexes.size(), [&](size_t i) {
    const int index = host_ifindexes[i];
    return NetlinkSocket::Request{
        linkGroupMessage(index, kDoomedLinkGroup),
        absl::StrCat("move link ", index, " to the group of links being deleted")};
  });
}

absl::StatusOr<int> hostVethIndex(const std::string& host_ifname) {
  auto sock = NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  return sock->linkIndex(host_ifname);
}

absl::Status checkPodLink(const PodLinkSpec& spec) {
  auto fail = [](auto&&... parts) { return absl::FailedPreconditionError(absl::StrCat(parts...)); };
  auto sock = NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  Rtnl rtnl(*sock);
  auto host = rtnl.getLink(spec.host_ifname);
  if (!host.ok()) return fail("node-side interface ", spec.host_ifname, " is missing");
  if (host->kind != "veth") return fail(spec.host_ifname, " is not a veth");
  if (!host->up) return fail(spec.host_ifname, " is down");
  auto routes = rtnl.listRoutes(conf::Family::kV4);
  if (!routes.ok()) return routes.status();
  for (const auto& ip : spec.ips) {
    bool found = false;
    for (const auto& r : *routes) {
      found |= r.dst == conf::IpPrefix::host(ip) && r.oif == host->index;
    }
    if (!found)
      return fail("node route ", ip.toString(), "/32 dev ", spec.host_ifname, " is missing");
  }
  auto netns = openNetns(spec.netns_path);
  if (!netns.ok()) return netns.status();
  return runInNetns(*netns, [&]() -> absl::Status {
    auto psock = NetlinkSocket::open();
    if (!psock.ok()) return psock.status();
    Rtnl prtnl(*psock);
    auto link = prtnl.getLink(spec.pod_ifname);
    if (!link.ok()) return fail("pod interface ", spec.pod_ifname, " is missing");
    if (!link->up) return fail("pod interface ", spec.pod_ifname, " is down");
    if (link->mac != spec.pod_mac)
      return fail("pod interface ", spec.pod_ifname, " has another MAC");
    if (link->mtu != spec.mtu)
      return fail("pod interface MTU is ", link->mtu, ", expected ", spec.mtu);
    auto addrs = prtnl.listAddresses(conf::Family::kV4);
    if (!addrs.ok()) return addrs.status();
    for (const auto& ip : spec.ips) {
      bool found = false;
      for (const auto& a : *addrs) found |= a.ifindex == link->index && a.prefix.address() == ip;
      if (!found) return fail("pod address ", ip.toString(), " is missing");
    }
    if (!spec.default_route) return absl::OkStatus();
    auto proutes = prtnl.listRoutes(conf::Family::kV4);
    if (!proutes.ok()) return proutes.status();
    for (const auto& r : *proutes) {
      if (r.dst.length() == 0 && r.table == RT_TABLE_MAIN && r.gateway == podGateway() &&
          r.oif == link->index) {
        return absl::OkStatus();
      }
    }
    return fail("pod default route via ", kPodGatewayV4, " is missing");
  });
}

absl::StatusOr<std::vector<HostVeth>> listHostVethLinks() {
  auto sock = NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  auto links = Rtnl(*sock).listLinks();
  if (!links.ok()) return links.status();
  std::vector<HostVeth> out;
  for (const auto& l : *links) {
    if (l.kind == "veth" && absl::StartsWith(l.name, kHostVethPrefix)) {
      out.push_back({l.name, l.index});
    }
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> listHostVeths() {
  auto links = listHostVethLinks();
  if (!links.ok()) return links.status();
  std::vector<std::string> out;
  for (auto& l : *links) out.push_back(std::move(l.name));
  return out;
}

}  // namespace quasar::routing
