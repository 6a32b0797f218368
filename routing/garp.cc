#include "routing/garp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netpacket/packet.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "routing/fd.h"
#include "routing/netlink_socket.h"

namespace quasar::routing {
namespace {

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

}  // namespace

std::array<uint8_t, kArpFrameLen> gratuitousArpFrame(const conf::Mac& mac,
                                                     const conf::IpAddress& ip) {
  std::array<uint8_t, kArpFrameLen> f{};
  uint8_t* p = f.data();
  std::memset(p, 0xff, 6);  // Ethernet destination: broadcast
  std::memcpy(p + 6, mac.data(), 6);
  put16(p + 12, ETHERTYPE_ARP);
  uint8_t* arp = p + 14;
  put16(arp, ARPHRD_ETHER);
  put16(arp + 2, ETHERTYPE_IP);
  arp[4] = 6;  // hardware address length
  arp[5] = 4;  // protocol address length
  put16(arp + 6, ARPOP_REQUEST);
  std::memcpy(arp + 8, mac.data(), 6);  // sender MAC
  std::memcpy(arp + 14, ip.data(), 4);  // sender IP
  // Target MAC stays zero (a request asks for it); target IP is the sender's own.
  std::memcpy(arp + 24, ip.data(), 4);
  return f;
}

absl::Status sendGratuitousArp(const std::string& ifname, const conf::IpAddress& ip) {
  if (!ip.isV4()) {
    return absl::InvalidArgumentError(
        absl::StrCat("gratuitous ARP for ", ip.toString(), ": not an IPv4 address"));
  }
  const std::string what = absl::StrCat("gratuitous ARP for ", ip.toString(), " on ", ifname);
  if (ifname.size() >= IFNAMSIZ) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": interface name too long"));
  }
  // Protocol 0: the socket only sends, it receives nothing.
  Fd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errnoStatus(errno, absl::StrCat(what, ": open packet socket"));
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, ifname.c_str(), ifname.size() + 1);
  if (::ioctl(fd.get(), SIOCGIFINDEX, &ifr) != 0) {
    return errnoStatus(errno, absl::StrCat(what, ": interface index"));
  }
  const int ifindex = ifr.ifr_ifindex;
  if (::ioctl(fd.get(), SIOCGIFHWADDR, &ifr) != 0) {
    return errnoStatus(errno, absl::StrCat(what, ": interface MAC"));
  }
  if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
    return absl::FailedPreconditionError(absl::StrCat(what, ": not an Ethernet device"));
  }
  conf::Mac mac;
  std::memcpy(mac.data(), ifr.ifr_hwaddr.sa_data, mac.size());
  const auto frame = gratuitousArpFrame(mac, ip);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = ifindex;
  to.sll_protocol = htons(ETH_P_ARP);
  to.sll_halen = 6;
  std::memset(to.sll_addr, 0xff, 6);
  const ssize_t n = ::sendto(fd.get(), frame.data(), frame.size(), 0,
                             reinterpret_cast<const sockaddr*>(&to), sizeof(to));
  if (n < 0) return errnoStatus(errno, what);
  if (static_cast<size_t>(n) != frame.size()) {
    return absl::InternalError(absl::StrCat(what, ": short send (", n, " bytes)"));
  }
  return absl::OkStatus();
}

}  // namespace quasar::routing
