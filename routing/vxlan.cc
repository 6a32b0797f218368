#include "routing/vxlan.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
// After net/if.h: linux/if_link.h brings no second definition of IFF_* then.
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "absl/strings/str_cat.h"
#include "routing/route_planner.h"
#include "routing/rtnl.h"

namespace quasar::routing {

conf::Mac vtepMacFor(const conf::IpAddress& ip) {
  const uint8_t* b = ip.data() + (ip.isV4() ? 0 : 12);
  return {0x0e, 0x51, b[0], b[1], b[2], b[3]};
}

absl::Status ensureVxlanDevice(const std::string& uplink, const conf::IpAddress& local,
                               const conf::IpAddress& vtep, int mtu) {
  auto sock = NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  Rtnl rtnl(*sock);
  const unsigned uplink_index = if_nametoindex(uplink.c_str());
  if (uplink_index == 0) return absl::NotFoundError(absl::StrCat("uplink ", uplink, " not found"));
  if (if_nametoindex(kVxlanDevice) == 0) {
    NlMessage m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    auto* ifi = m.putHeader<ifinfomsg>();
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
    m.putString(IFLA_IFNAME, kVxlanDevice);
    const conf::Mac mac = vtepMacFor(local);
    m.putBytes(IFLA_ADDRESS, mac.data(), mac.size());
    m.putU32(IFLA_MTU, mtu);
    auto linkinfo = m.nestStart(IFLA_LINKINFO);
    m.putString(IFLA_INFO_KIND, "vxlan");
    auto data = m.nestStart(IFLA_INFO_DATA);
    m.putU32(IFLA_VXLAN_ID, kVxlanVni);
    m.putU32(IFLA_VXLAN_LINK, uplink_index);
    m.putBytes(IFLA_VXLAN_LOCAL, local.data(), 4);
    const uint16_t port = htons(kVxlanPort);
    m.putBytes(IFLA_VXLAN_PORT, &port, sizeof(port));
    m.putU8(IFLA_VXLAN_LEARNING, 0);
    m.nestEnd(data);
    m.nestEnd(linkinfo);
    if (auto s = sock->request(m, "create vxlan device"); !s.ok()) return s;
  }
  const int index = static_cast<int>(if_nametoindex(kVxlanDevice));
  if (auto s = rtnl.setLinkUp(index, mtu); !s.ok()) return s;
  return rtnl.setOnlyAddress(index, conf::IpPrefix::host(vtep));
}

absl::Status syncVxlanPeers(const std::vector<VxlanPeer>& peers) {
  const int index = static_cast<int>(if_nametoindex(kVxlanDevice));
  if (index == 0) return absl::FailedPreconditionError("no vxlan device");
  auto sock = NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  Rtnl rtnl(*sock);
  for (const auto& p : peers) {
    const conf::Mac mac = vtepMacFor(p.node_ip);
    if (auto s = rtnl.addPermanentNeighbour(index, p.vtep, mac); !s.ok()) return s;
    // FDB: frames for the peer's VTEP MAC go to its underlay address.
    NlMessage m(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE);
    auto* nd = m.putHeader<ndmsg>();
    nd->ndm_family = AF_BRIDGE;
    nd->ndm_ifindex = index;
    nd->ndm_state = NUD_PERMANENT;
    nd->ndm_flags = NTF_SELF;
    m.putBytes(NDA_LLADDR, mac.data(), mac.size());
    m.putBytes(NDA_DST, p.node_ip.data(), 4);
    if (auto s = sock->request(m, absl::StrCat("fdb entry for ", p.node_ip.toString())); !s.ok()) {
      return s;
    }
  }
  // Entries of peers that left (or moved): their neighbour entry by VTEP address, their FDB
  // entry by VTEP MAC and underlay address.
  auto neighbours = rtnl.listNeighbours(AF_INET, index);
  if (!neighbours.ok()) return neighbours.status();
  for (const auto& n : *neighbours) {
    bool wanted = false;
    for (const auto& p : peers) wanted |= n.dst == p.vtep && n.lladdr == vtepMacFor(p.node_ip);
    if (wanted || !n.dst) continue;
    if (auto s = rtnl.deleteNeighbour(n); !s.ok() && !absl::IsNotFound(s)) return s;
  }
  auto fdb = rtnl.listNeighbours(AF_BRIDGE, index);
  if (!fdb.ok()) return fdb.status();
  for (const auto& n : *fdb) {
    if (!n.lladdr || !n.dst) continue;  // the kernel's own entries (e.g. all-zero defaults)
    bool wanted = false;
    for (const auto& p : peers) wanted |= n.dst == p.node_ip && n.lladdr == vtepMacFor(p.node_ip);
    if (wanted) continue;
    if (auto s = rtnl.deleteNeighbour(n); !s.ok() && !absl::IsNotFound(s)) return s;
  }
  return absl::OkStatus();
}

absl::Status removeVxlanDevice() {
  if (if_nametoindex(kVxlanDevice) == 0) return absl::OkStatus();
  auto sock = NetlinkSocket::open();
  if (!sock.ok()) return sock.status();
  auto s = Rtnl(*sock).deleteLink(kVxlanDevice);
  return absl::IsNotFound(s) ? absl::OkStatus() : s;
}

}  // namespace quasar::routing
