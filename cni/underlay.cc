#include "cni/underlay.h"

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "routing/garp.h"
#include "routing/macvlan.h"
#include "routing/netlink_socket.h"
#include "routing/netns.h"
#include "routing/proxy_neighbour.h"
#include "routing/rtnl.h"

namespace quasar::cni {
namespace {

namespace pb = quasar::api::v1;

absl::StatusOr<int> deviceIndex(routing::NetlinkSocket& sock, const std::string& device) {
  if (device.empty() || device.size() >= 16) {
    return absl::FailedPreconditionError(
        absl::StrCat("quasard named no usable underlay device (\"", device, "\")"));
  }
  auto index = sock.linkIndex(device);
  if (!index.ok()) {
    return absl::Status(index.status().code(),
                        absl::StrCat("underlay device ", device, ": ", index.status().message()));
  }
  return index;
}

}  // namespace

bool isMacvlan(const pb::Allocation& a) {
  return a.source() == kFloatingSource && a.underlay().mode() == "macvlan";
}

absl::Status announceFloating(const pb::Underlay& u, const conf::IpAddress& ip,
                              const std::string& host_ifname, const conf::Mac& pod_mac) {
  auto sock = routing::NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  auto index = deviceIndex(*sock, u.device());
  if (!index.ok()) return index.status();
  // The pod's MAC on the host veth, before anyone is told where the address is: the first
  // packet for it must not start ARP on a veth whose carrier the kernel has not yet activated
  // (linkwatch runs late under load): that solicitation is lost and the next one comes only
  // after retrans_time (1 s), which after a move is 1 s of silence for every neighbour.
  auto veth = sock->linkIndex(host_ifname);
  if (!veth.ok()) return veth.status();
  auto neighbour = routing::neighbourAddMessage(*veth, ip, pod_mac);
  if (auto s = sock->request(neighbour,
                             absl::StrCat("add neighbour ", ip.toString(), " on ", host_ifname));
      !s.ok()) {
    return s;
  }
  if (auto s = routing::addProxyNeighbour(*sock, *index, ip); !s.ok()) return s;
  return routing::sendGratuitousArp(u.device(), ip);
}

absl::StatusOr<Result> addMacvlanPod(const Invocation& inv, const pb::Underlay& u,
                                     const conf::IpAddress& ip, const conf::Mac& mac, int mtu) {
  auto sock = routing::NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  if (auto index = deviceIndex(*sock, u.device()); !index.ok()) return index.status();
  auto netns = routing::openNetns(inv.env.netns);
  if (!netns.ok()) return netns.status();
  const int prefix = u.prefix_length() ? static_cast<int>(u.prefix_length()) : ip.bits();
  if (prefix < 1 || prefix > ip.bits()) {
    return absl::InternalError(absl::StrCat("quasard gave prefix length ", prefix));
  }
  routing::MacvlanPodSpec spec;
  spec.parent = u.device();
  spec.netns_path = inv.env.netns;
  spec.pod_ifname = inv.env.ifname;
  spec.pod_mac = mac;
  spec.address = conf::IpPrefix(ip, prefix);
  if (!u.gateway().empty()) {
    auto gw = conf::IpAddress::parse(u.gateway());
    if (!gw.ok()) return absl::InternalError(absl::StrCat("quasard gave gateway ", u.gateway()));
    spec.gateway = *gw;
  }
  spec.mtu = mtu;
  if (auto s = routing::addMacvlanPodLink(*sock, *netns, spec); !s.ok()) return s;
  absl::Cleanup undo = [&] { (void)routing::deleteMacvlanPodLink(*netns, inv.env.ifname); };
  auto leg = routing::ensureMacvlanLeg(*sock, u.device());
  if (!leg.ok()) return leg.status();
  if (auto s = routing::addMacvlanLegRoute(*sock, *leg, ip); !s.ok()) return s;
  std::move(undo).Cancel();
  Result r;
  r.interfaces.push_back({inv.env.ifname, conf::macToString(mac),
                          mtu ? std::optional(mtu) : std::nullopt, inv.env.netns});
  r.ips.push_back({spec.address, spec.gateway, 0});
  if (spec.gateway) r.routes.push_back({*conf::IpPrefix::parse("0.0.0.0/0"), spec.gateway});
  return r;
}

absl::Status removeMacvlanPod(const Invocation& inv) {
  if (inv.env.netns.empty()) return absl::OkStatus();
  auto netns = routing::openNetns(inv.env.netns);
  if (absl::IsNotFound(netns.status())) return absl::OkStatus();
  if (!netns.ok()) return netns.status();
  return routing::deleteMacvlanPodLink(*netns, inv.env.ifname);
}

}  // namespace quasar::cni
