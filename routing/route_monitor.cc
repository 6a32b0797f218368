#include "routing/route_monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <cstddef>

#include "routing/netlink_socket.h"
#include "routing/nl_attr.h"
#include "routing/pod_link.h"
#include "routing/policy_rule.h"
#include "routing/rtnl.h"

namespace quasar::routing {
namespace {

// A socket filter run by the kernel on every notification before it is queued: it drops those
// matters() ignores and every pod ADD and DEL brings (the link messages of node-side pod veths,
// new routes, deleted routes that are not quasar's node routes), so none of them wakes the
// monitor's thread. A link message is recognised by its first attribute, the name, where the
// kernel has always put it; one laid out otherwise is let through, and matters() decides.
// Rule notifications (rare: the agent's own changes) all pass; matters() reads their protocol.
// Loads are big-endian: netlink's host-order fields compare against htons() constants.
std::vector<sock_filter> notificationFilter() {
  constexpr uint32_t kAccept = 0xffffffff;
  constexpr uint32_t kAttributes = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifinfomsg));
  const uint32_t pod_veth_prefix = (uint32_t{uint8_t(kHostVethPrefix[0])} << 24) |
                                   (uint32_t{uint8_t(kHostVethPrefix[1])} << 16) |
                                   (uint32_t{uint8_t(kHostVethPrefix[2])} << 8);
  static_assert(sizeof(kHostVethPrefix) == 4, "the filter compares a three-letter prefix");
  return {
      /* 0 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, offsetof(nlmsghdr, nlmsg_type)),
      /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htons(RTM_DELROUTE), 0, 2),
      /* 2 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, NLMSG_HDRLEN + offsetof(rtmsg, rtm_protocol)),
      /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kNodeRouteProtocol, 8, 9),
      /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htons(RTM_NEWROUTE), 8, 0),
      /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htons(RTM_NEWLINK), 1, 0),
      /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htons(RTM_DELLINK), 0, 5),
      /* 7 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, kAttributes + offsetof(nlattr, nla_type)),
      /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htons(IFLA_IFNAME), 0, 3),
      /* 9 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kAttributes + NLA_HDRLEN),
      /* 10 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xffffff00),
      /* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, pod_veth_prefix, 1, 0),
      /* 12 */ BPF_STMT(BPF_RET | BPF_K, kAccept),
      /* 13 */ BPF_STMT(BPF_RET | BPF_K, 0),
  };
}

}  // namespace

absl::StatusOr<std::unique_ptr<RouteMonitor>> RouteMonitor::start(
    std::vector<std::string> devices, std::function<void()> on_change) {
  Fd sock(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!sock.valid()) return errnoStatus(errno, "open rtnetlink monitor socket");
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups =
      RTMGRP_IPV4_ROUTE | RTMGRP_LINK | RTMGRP_IPV4_RULE | (1u << (RTNLGRP_IPV6_RULE - 1));
  auto filter = notificationFilter();
  const sock_fprog program{static_cast<unsigned short>(filter.size()), filter.data()};
  if (::setsockopt(sock.get(), SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof(program)) != 0) {
    return errnoStatus(errno, "attach the rtnetlink monitor's filter");
  }
  if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return errnoStatus(errno, "bind rtnetlink monitor socket");
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errnoStatus(errno, "pipe");
  return std::unique_ptr<RouteMonitor>(new RouteMonitor(std::move(sock), Fd(fds[0]), Fd(fds[1]),
                                                        std::move(devices),
                                                        std::move(on_change)));
}

RouteMonitor::RouteMonitor(Fd sock, Fd stop_read, Fd stop_write, std::vector<std::string> devices,
                           std::function<void()> on_change)
    : sock_(std::move(sock)),
      stop_read_(std::move(stop_read)),
      stop_write_(std::move(stop_write)),
      devices_(std::move(devices)),
      on_change_(std::move(on_change)),
      thread_([this] { run(); }) {}

RouteMonitor::~RouteMonitor() {
  const char byte = 0;
  if (::write(stop_write_.get(), &byte, 1) < 0) {
    // The pipe cannot be full or closed here; nothing else to do.
  }
  if (thread_.joinable()) thread_.join();
}

bool RouteMonitor::matters(const nlmsghdr* nlh) const {
  if (nlh->nlmsg_type == RTM_DELRULE) {
    auto rule = parseRule(nlh);
    return rule && rule->protocol == kRuleProtocol;
  }
  if (nlh->nlmsg_type == RTM_DELROUTE) {
    auto route = parseRoute(nlh);
    return route && route->protocol == kNodeRouteProtocol;
  }
  auto link = parseLink(nlh);
  if (!link || std::find(devices_.begin(), devices_.end(), link->name) == devices_.end()) {
    return false;
  }
  // Gone, or down: the kernel drops routes through a device that goes down without telling.
  return nlh->nlmsg_type == RTM_DELLINK || !link->up;
}

void RouteMonitor::run() {
  std::vector<uint8_t> buf(32768);
  pollfd fds[2] = {{sock_.get(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
  while (true) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    // MSG_TRUNC: the datagram's whole length, even when it did not fit.
    const ssize_t n = ::recv(sock_.get(), buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == ENOBUFS) on_change_();  // notifications were lost: assume the worst
      continue;
    }
    if (static_cast<size_t>(n) > buf.size()) {
      // Cut (a link with many altnames or VFs): what it said is lost, so assume the worst, and
      // read such datagrams whole from now on.
      buf.resize(static_cast<size_t>(n));
      received_.fetch_add(1, std::memory_order_relaxed);
      on_change_();
      continue;
    }
    bool change = false;
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
    size_t len = static_cast<size_t>(n);
    for (; nl::messageOk(nlh, len); nlh = nl::nextMessage(nlh, len)) {
      received_.fetch_add(1, std::memory_order_relaxed);
      change |= matters(nlh);
    }
    if (change) on_change_();
  }
}

}  // namespace quasar::routing
