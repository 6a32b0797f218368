#pragma once
// For netns tests only: a "physical subnet" (a bridge in a namespace of its own) that other
// namespaces join with a veth each, and an ICMP echo from inside a namespace. Nothing here
// touches the namespace the test process runs in: every namespace is unshared and goes away
// with its last file descriptor (so with the test, also when it fails).

#include <fcntl.h>
#include <net/if.h>
// After net/if.h: linux/if_link.h brings no second definition of IFF_* then.
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "conf/ip.h"
#include "conf/net_conf.h"
#include "routing/fd.h"
#include "routing/netlink_socket.h"
#include "routing/netns.h"
#include "routing/netns_testing.h"
#include "routing/rtnl.h"

namespace quasar::routing::testing {

// A second descriptor of the same namespace (PodLinkBuilder::start takes one to own).
inline Fd dupFd(const Fd& fd) { return Fd(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0)); }

// An rtnetlink socket in `ns`, opened by a short-lived thread (the caller stays where it is).
inline absl::StatusOr<NetlinkSocket> socketIn(const Fd& ns) {
  absl::StatusOr<NetlinkSocket> sock = absl::UnknownError("not run");
  auto s = runInNetns(ns, [&] {
    sock = NetlinkSocket::open();
    return sock.status();
  });
  if (!s.ok()) return s;
  return sock;
}

// The neighbour entry's MAC for `ip` on `ifindex`, if there is one.
inline std::optional<conf::Mac> neighbourMac(NetlinkSocket& sock, int ifindex,
                                             const conf::IpAddress& ip) {
  auto ns = Rtnl(sock).listNeighbours(AF_INET, ifindex);
  if (!ns.ok()) return std::nullopt;
  for (const auto& n : *ns) {
    if (n.dst == ip && n.lladdr) return n.lladdr;
  }
  return std::nullopt;
}

// Waits (up to 2 s) until link `ifname` is operationally up: the kernel sets that from its link
// watch, which also gives the device its queue; until then frames sent on it are dropped.
inline absl::Status waitOperUp(NetlinkSocket& sock, const std::string& ifname) {
  for (int i = 0; i < 200; ++i) {
    auto m = linkGetMessage(ifname);
    constexpr uint8_t kOperUp = 6;  // IF_OPER_UP of linux/if.h, which clashes with net/if.h
    uint8_t oper = 0;
    auto s = sock.request(m, "get link " + ifname, [&](const nlmsghdr* nlh) {
      nl::forEachAttr(nlh, sizeof(ifinfomsg), [&](const nlattr* a) {
        if (nl::attrType(a) == IFLA_OPERSTATE && nl::attrPayloadLen(a) == 1) {
          oper = *static_cast<const uint8_t*>(nl::attrPayload(a));
        }
      });
    });
    if (!s.ok()) return s;
    if (oper == kOperUp) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return absl::DeadlineExceededError(ifname + " is not operationally up");
}

// A bridge (STP off: ports forward at once) in a namespace of its own; join() plugs a
// namespace into it with a veth and gives the namespace's end an address.
class Subnet {
 public:
  static absl::StatusOr<Subnet> make() {
    Subnet s;
    s.ns_ = unsharedNamespace();
    if (!s.ns_.valid()) return absl::InternalError("unshare the subnet's namespace");
    auto sock = socketIn(s.ns_);
    if (!sock.ok()) return sock.status();
    NlMessage m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    auto* ifi = m.putHeader<ifinfomsg>();
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
    m.putString(IFLA_IFNAME, "br0");
    const auto info = m.nestStart(IFLA_LINKINFO);
    m.putString(IFLA_INFO_KIND, "bridge");
    m.nestEnd(info);
    if (auto st = sock->request(m, "create bridge"); !st.ok()) return st;
    return s;
  }

  // Plugs `host` into the bridge: `ifname` in `host` (up, with `address`), "w<n>" on the bridge.
  // Returns the index of `ifname` in `host`.
  absl::StatusOr<int> join(const Fd& host, const std::string& ifname,
                           const std::optional<conf::IpPrefix>& address) {
    auto sock = socketIn(ns_);
    if (!sock.ok()) return sock.status();
    const std::string wire = absl::StrCat("w", ++ports_);
    const conf::Mac wire_mac{0x02, 0xee, 0, 0, static_cast<uint8_t>(ports_), 1};
    const conf::Mac host_mac{0x02, 0x10, 0, 0, static_cast<uint8_t>(ports_), 2};
    if (auto s = Rtnl(*sock).createVeth({wire, wire_mac, 1500, ifname, host_mac, host.get()});
        !s.ok()) {
      return s;
    }
    auto wire_index = sock->linkIndex(wire);
    auto bridge_index = sock->linkIndex("br0");
    if (!wire_index.ok() || !bridge_index.ok()) return absl::InternalError("bridge port index");
    NlMessage m(RTM_NEWLINK, 0);
    m.putHeader<ifinfomsg>()->ifi_index = *wire_index;
    m.putU32(IFLA_MASTER, static_cast<uint32_t>(*bridge_index));
    if (auto s = sock->request(m, "enslave " + wire); !s.ok()) return s;
    auto hsock = socketIn(host);
    if (!hsock.ok()) return hsock.status();
    auto index = hsock->linkIndex(ifname);
    if (!index.ok()) return index.status();
    if (auto s = Rtnl(*hsock).setLinkUp(*index); !s.ok()) return s;
    if (address) {
      if (auto s = Rtnl(*hsock).addAddress(*index, *address); !s.ok()) return s;
    }
    if (auto s = waitOperUp(*hsock, ifname); !s.ok()) return s;
    return *index;
  }

 private:
  Fd ns_;
  int ports_ = 0;
};

inline uint16_t icmpChecksum(const uint8_t* p, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (p[i] << 8) | p[i + 1];
  if (len & 1) sum += p[len - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// From inside `ns`, sends an ICMP echo request to `dst` every 10 ms until one is answered or
// `timeout` passes; returns the time from the first request to the first answer.
// DeadlineExceeded when none came.
inline absl::StatusOr<std::chrono::microseconds> firstAnsweredPing(
    const Fd& ns, const conf::IpAddress& dst, std::chrono::milliseconds timeout) {
  static std::atomic<uint16_t> next_id{static_cast<uint16_t>(::getpid())};
  const uint16_t id = next_id++;
  absl::StatusOr<std::chrono::microseconds> result = absl::UnknownError("not run");
  auto st = runInNetns(ns, [&]() -> absl::Status {
    Fd fd(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP));
    if (!fd.valid()) return errnoStatus(errno, "raw ICMP socket");
    sockaddr_in to{};
    to.sin_family = AF_INET;
    std::memcpy(&to.sin_addr, dst.data(), 4);
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + timeout;
    uint16_t seq = 0;
    auto next_send = start;
    while (std::chrono::steady_clock::now() < deadline) {
      if (std::chrono::steady_clock::now() >= next_send) {
        uint8_t req[16] = {8,
                           0,
                           0,
                           0,
                           static_cast<uint8_t>(id >> 8),
                           static_cast<uint8_t>(id),
                           static_cast<uint8_t>(seq >> 8),
                           static_cast<uint8_t>(seq)};
        ++seq;
        const uint16_t sum = icmpChecksum(req, sizeof(req));
        req[2] = static_cast<uint8_t>(sum >> 8);
        req[3] = static_cast<uint8_t>(sum);
        // Errors (no route or neighbour yet) are what the retries are for.
        (void)::sendto(fd.get(), req, sizeof(req), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
        next_send += std::chrono::milliseconds(10);
      }
      pollfd p{fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 2) <= 0) continue;
      uint8_t buf[1500];
      const ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
      if (n < 20) continue;
      const size_t ihl = (buf[0] & 0x0f) * 4;
      if (static_cast<size_t>(n) < ihl + 8) continue;
      const uint8_t* icmp = buf + ihl;
      const bool from_dst = std::memcmp(buf + 12, dst.data(), 4) == 0;
      if (from_dst && icmp[0] == 0 && ((icmp[4] << 8) | icmp[5]) == id) {
        result = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - start);
        return absl::OkStatus();
      }
    }
    result = absl::DeadlineExceededError(absl::StrCat("no answer from ", dst.toString()));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return result;
}

}  // namespace quasar::routing::testing
