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

// Pod side, run inside the pod's namespace: up with its MTU, addresses, gateway neighbour,
// default route.
absl::Status configurePodSide(NetlinkSocket& sock, const std::string& pod_ifname,
                              const std::vector<conf::IpAddress>& ips, int mtu) {
  Rtnl rtnl(sock);
  auto idx = ifindexOf(pod_ifname);
  if (!idx.ok()) return idx.status();
  if (auto s = rtnl.setLinkUp(*idx, mtu); !s.ok()) return s;
  for (const auto& ip : ips) {
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

// Node side: MTU, proxy ARP and forwarding, and a /32 route to each pod address through the
// veth.
absl::Status configureNodeSide(NetlinkSocket& sock, const std::string& host_ifname,
                               const std::vector<conf::IpAddress>& ips, int mtu, int created_mtu) {
  Rtnl rtnl(sock);
  auto host_idx = ifindexOf(host_ifname);
  if (!host_idx.ok()) return host_idx.status();
  if (mtu != created_mtu) {
    if (auto s = rtnl.setLinkMtu(*host_idx, mtu); !s.ok()) return s;
  }
  // Proxy ARP answers a pod that ARPs for its gateway anyway (e.g. after flushing its
  // neighbours); forwarding makes the node route between pods and out.
  if (auto s = writeSysctl(absl::StrCat("net/ipv4/conf/", host_ifname, "/proxy_arp"), "1");
      !s.ok()) {
    return s;
  }
  if (auto s = ensureForwarding(); !s.ok()) return s;
  for (const auto& ip : ips) {
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

absl::StatusOr<std::unique_ptr<PodLinkBuilder>> PodLinkBuilder::start(const std::string& netns_path,
                                                                      std::string host_ifname,
                                                                      std::string pod_ifname,
                                                                      conf::Mac pod_mac) {
  auto netns = openNetns(netns_path);
  if (!netns.ok()) return netns.status();
  std::unique_ptr<PodLinkBuilder> b(new PodLinkBuilder());
  b->netns_path_ = netns_path;
  b->host_ifname_ = std::move(host_ifname);
  b->pod_ifname_ = std::move(pod_ifname);
  b->pod_mac_ = pod_mac;
  b->netns_ = std::move(*netns);
  // The thread joins the namespace and opens its socket while the veth is being created.
  b->pod_thread_ = std::make_unique<NetnsThread>(
      b->netns_, [future = b->task_.get_future().share(), ifname = b->pod_ifname_] {
        auto sock = NetlinkSocket::open();
        auto task = future.get();
        if (!task) return absl::OkStatus();
        if (!sock.ok()) return sock.status();
        return configurePodSide(*sock, ifname, task->ips, task->mtu);
      });
  return b;
}

PodLinkBuilder::~PodLinkBuilder() {
  if (pod_thread_) {
    if (!configured_) task_.set_value(std::nullopt);
    pod_thread_->wait().IgnoreError();
  }
  if (created_ && !committed_) deletePodLink(host_ifname_).IgnoreError();
}

absl::Status PodLinkBuilder::create(int mtu) {
  auto sock = NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  VethSpec veth{host_ifname_, kHostVethMac, mtu, pod_ifname_, pod_mac_, netns_.get()};
  if (auto s = Rtnl(*sock).createVeth(veth); !s.ok()) return s;
  created_ = true;
  created_mtu_ = mtu;
  return absl::OkStatus();
}

absl::Status PodLinkBuilder::configure(const std::vector<conf::IpAddress>& ips, int mtu) {
  if (!created_) return absl::FailedPreconditionError("configure() before create()");
  configured_ = true;
  task_.set_value(PodTask{ips, mtu});
  auto sock = NetlinkSocket::open();
  absl::Status node_side =
      sock.ok() ? configureNodeSide(*sock, host_ifname_, ips, mtu, created_mtu_) : sock.status();
  absl::Status pod_side = pod_thread_->wait();
  if (!node_side.ok()) return node_side;
  if (!pod_side.ok()) {
    return absl::Status(pod_side.code(),
                        absl::StrCat("in pod netns ", netns_path_, ": ", pod_side.message()));
  }
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
