#include "routing/pod_link.h"

#include <linux/rtnetlink.h>
#include <net/if.h>

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

absl::StatusOr<int> ifindexOf(const std::string& name) {
  const unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) return errnoStatus(errno, absl::StrCat("find interface ", name));
  return static_cast<int>(idx);
}

// Pod side, run inside the pod's namespace: address, gateway neighbour, default route.
absl::Status configurePodSide(const PodLinkSpec& spec) {
  auto sock = NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  Rtnl rtnl(*sock);
  auto idx = ifindexOf(spec.pod_ifname);
  if (!idx.ok()) return idx.status();
  if (auto s = rtnl.setLinkUp(*idx); !s.ok()) return s;
  for (const auto& ip : spec.ips) {
    if (auto s = rtnl.addAddress(*idx, conf::IpPrefix::host(ip)); !s.ok()) return s;
  }
  if (auto s = rtnl.addPermanentNeighbour(*idx, podGateway(), kHostVethMac); !s.ok()) return s;
  Route def;
  def.dst = *conf::IpPrefix::parse("0.0.0.0/0");
  def.gateway = podGateway();
  def.ifindex = *idx;
  def.onlink = true;
  def.protocol = RTPROT_BOOT;  // inside the pod it is an ordinary static route
  return rtnl.addRoute(def);
}

absl::Status ensureForwarding();

// Node side: proxy ARP and forwarding, and a /32 route to each pod address through the veth.
absl::Status configureNodeSide(const PodLinkSpec& spec) {
  auto sock = NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  Rtnl rtnl(*sock);
  auto host_idx = ifindexOf(spec.host_ifname);
  if (!host_idx.ok()) return host_idx.status();
  // Proxy ARP answers a pod that ARPs for its gateway anyway (e.g. after flushing its
  // neighbours); forwarding makes the node route between pods and out.
  if (auto s = writeSysctl(absl::StrCat("net/ipv4/conf/", spec.host_ifname, "/proxy_arp"), "1");
      !s.ok()) {
    return s;
  }
  if (auto s = ensureForwarding(); !s.ok()) return s;
  for (const auto& ip : spec.ips) {
    Route r;
    r.dst = conf::IpPrefix::host(ip);
    r.ifindex = *host_idx;
    r.scope = RT_SCOPE_LINK;
    if (auto s = rtnl.addRoute(r); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ensureForwarding() {
  auto v = readSysctl("net/ipv4/ip_forward");
  if (v.ok() && *v == "1") return absl::OkStatus();
  return writeSysctl("net/ipv4/ip_forward", "1");
}

}  // namespace

std::string hostVethName(const conf::Attachment& a) {
  // FNV-1a, 64 bit: stable across versions and platforms, which DEL after an upgrade relies on.
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
  return absl::StrCat(kHostVethPrefix, absl::StrFormat("%011x", h >> 20));
}

conf::Mac podMacFor(const conf::IpAddress& ip) {
  const uint8_t* b = ip.data() + (ip.isV4() ? 0 : 12);
  return {0x0a, 0x58, b[0], b[1], b[2], b[3]};
}

absl::Status createPodLink(const PodLinkSpec& spec) {
  auto netns = openNetns(spec.netns_path);
  if (!netns.ok()) return netns.status();
  auto sock = NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  Rtnl rtnl(*sock);
  VethSpec veth{spec.host_ifname, kHostVethMac, spec.mtu,
                spec.pod_ifname,  spec.pod_mac, netns->get()};
  if (auto s = rtnl.createVeth(veth); !s.ok()) return s;
  absl::Cleanup remove_veth = [&] { rtnl.deleteLink(spec.host_ifname).IgnoreError(); };

  // The pod side (in its own namespace, on its own thread) and the node side go in parallel.
  NetnsThread pod_side(*netns, [&] { return configurePodSide(spec); });
  absl::Status node_side = configureNodeSide(spec);
  absl::Status pod_result = pod_side.wait();
  if (!node_side.ok()) return node_side;
  if (!pod_result.ok()) {
    return absl::Status(pod_result.code(),
                        absl::StrCat("in pod netns ", spec.netns_path, ": ", pod_result.message()));
  }
  std::move(remove_veth).Cancel();
  return absl::OkStatus();
}

absl::Status deletePodLink(const std::string& host_ifname) {
  auto sock = NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  auto s = Rtnl(*sock).deleteLink(host_ifname);
  if (absl::IsNotFound(s)) return absl::OkStatus();
  return s;
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

absl::StatusOr<std::vector<std::string>> listHostVeths() {
  auto sock = NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  auto links = Rtnl(*sock).listLinks();
  if (!links.ok()) return links.status();
  std::vector<std::string> out;
  for (const auto& l : *links) {
    if (l.kind == "veth" && absl::StartsWith(l.name, kHostVethPrefix)) out.push_back(l.name);
  }
  return out;
}

}  // namespace quasar::routing
