#include "routing/ipip.h"

#include <net/if.h>
#include <sys/socket.h>
// After net/if.h: linux/if_link.h brings no second definition of IFF_* then.
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "absl/strings/str_cat.h"
#include "routing/route_planner.h"
#include "routing/rtnl.h"

namespace quasar::routing {

absl::Status ensureIpipDevice(int mtu, const conf::IpAddress& address) {
  auto sock = NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  Rtnl rtnl(*sock);
  auto link = rtnl.getLink(kIpipDevice);
  if (absl::IsNotFound(link.status())) {
    // No fallback device here (net.core.fb_tunnels_only_for_init_net, or the module was not
    // loaded yet: the kernel loads it for this request when it can).
    NlMessage m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    m.putHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
    m.putString(IFLA_IFNAME, kIpipDevice);
    const auto linkinfo = m.nestStart(IFLA_LINKINFO);
    m.putString(IFLA_INFO_KIND, "ipip");
    m.nestEnd(linkinfo);
    auto s = sock->request(m, "create tunl0");
    if (!s.ok() && !absl::IsAlreadyExists(s)) {
      if (absl::IsNotFound(s) || absl::IsInvalidArgument(s) ||
          s.message().find("not supported") != absl::string_view::npos) {
        return absl::FailedPreconditionError(
            absl::StrCat("this kernel has no ipip support (load the ipip module): ", s.message()));
      }
      return s;
    }
    link = rtnl.getLink(kIpipDevice);
  }
  if (!link.ok()) return link.status();
  if (link->kind != "ipip") {
    return absl::FailedPreconditionError(
        absl::StrCat(kIpipDevice, " exists but is a ", link->kind.empty() ? "?" : link->kind,
                     " device, not ipip"));
  }
  auto settings = linkSetMessage(
      {.ifindex = link->index, .up = true, .mtu = link->mtu != mtu ? mtu : 0, .rp_filter = 0});
  if (auto s = sock->request(settings, "set up tunl0"); !s.ok()) return s;
  return rtnl.setOnlyAddress(link->index, conf::IpPrefix::host(address));
}

absl::Status releaseIpipDevice(const std::vector<conf::IpPrefix>& blocks) {
  auto sock = NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  Rtnl rtnl(*sock);
  auto link = rtnl.getLink(kIpipDevice);
  if (absl::IsNotFound(link.status())) return absl::OkStatus();
  if (!link.ok()) return link.status();
  auto addrs = rtnl.listAddresses(conf::Family::kV4);
  if (!addrs.ok()) return addrs.status();
  int others = 0;
  for (const auto& a : *addrs) {
    if (a.ifindex != link->index) continue;
    bool ours = false;
    for (const auto& b : blocks) ours |= b.contains(a.prefix.address());
    if (!ours) {
      ++others;
      continue;
    }
    if (auto s = rtnl.deleteAddress(link->index, a.prefix); !s.ok() && !absl::IsNotFound(s)) {
      return s;
    }
  }
  if (others > 0 || !link->up) return absl::OkStatus();
  auto down = linkSetMessage({.ifindex = link->index, .up = false});
  return sock->request(down, "bring tunl0 down");
}

}  // namespace quasar::routing
