#include "routing/proxy_neighbour.h"

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "routing/sysctl.h"

namespace quasar::routing {
namespace {

uint8_t af(conf::Family f) { return f == conf::Family::kV4 ? AF_INET : AF_INET6; }

NlMessage proxyMessage(uint16_t type, uint16_t flags, int ifindex, const conf::IpAddress& ip) {
  NlMessage m(type, flags);
  auto* nd = m.putHeader<ndmsg>();
  nd->ndm_family = af(ip.family());
  nd->ndm_ifindex = ifindex;
  nd->ndm_flags = NTF_PROXY;
  nd->ndm_state = NUD_PERMANENT;  // ignored for proxy entries; what iproute2 sends
  m.putBytes(NDA_DST, ip.data(), ip.byteLength());
  return m;
}

}  // namespace

NlMessage proxyNeighbourAddMessage(int ifindex, const conf::IpAddress& ip) {
  auto m = proxyMessage(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, ifindex, ip);
  m.putU8(NDA_PROTOCOL, kRouteProtocol);
  return m;
}

NlMessage proxyNeighbourDeleteMessage(int ifindex, const conf::IpAddress& ip) {
  return proxyMessage(RTM_DELNEIGH, 0, ifindex, ip);
}

NlMessage proxyNeighbourDumpMessage(conf::Family family) {
  NlMessage m(RTM_GETNEIGH, 0);
  auto* nd = m.putHeader<ndmsg>();
  nd->ndm_family = af(family);
  nd->ndm_flags = NTF_PROXY;
  return m;
}

absl::Status addProxyNeighbour(NetlinkSocket& sock, int ifindex, const conf::IpAddress& ip) {
  auto m = proxyNeighbourAddMessage(ifindex, ip);
  auto s = sock.request(m, absl::StrCat("add proxy neighbour ", ip.toString(), " dev ", ifindex));
  return absl::IsAlreadyExists(s) ? absl::OkStatus() : s;
}

absl::Status deleteProxyNeighbour(NetlinkSocket& sock, int ifindex, const conf::IpAddress& ip) {
  auto m = proxyNeighbourDeleteMessage(ifindex, ip);
  auto s =
      sock.request(m, absl::StrCat("delete proxy neighbour ", ip.toString(), " dev ", ifindex));
  return absl::IsNotFound(s) ? absl::OkStatus() : s;
}

absl::StatusOr<std::vector<NeighbourInfo>> listProxyNeighbours(NetlinkSocket& sock,
                                                               conf::Family family, int ifindex) {
  auto m = proxyNeighbourDumpMessage(family);
  std::vector<NeighbourInfo> out;
  auto s = sock.dump(
      m,
      [&](const nlmsghdr* nlh) {
        auto n = parseNeighbour(nlh);
        if (n && (n->flags & NTF_PROXY) && (ifindex == 0 || n->ifindex == ifindex)) {
          out.push_back(*n);
        }
      },
      "list proxy neighbours");
  if (!s.ok()) return s;
  return out;
}

absl::Status answerProxyArpAtOnce(const std::string& dev) {
  return writeSysctl(absl::StrCat("net/ipv4/neigh/", dev, "/proxy_delay"), "0");
}

}  // namespace quasar::routing
