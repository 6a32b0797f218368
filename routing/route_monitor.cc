#include "routing/route_monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <algorithm>

#include "routing/netlink_socket.h"
#include "routing/nl_attr.h"
#include "routing/rtnl.h"

namespace quasar::routing {

absl::StatusOr<std::unique_ptr<RouteMonitor>> RouteMonitor::start(
    std::vector<std::string> devices, std::function<void()> on_change) {
  Fd sock(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!sock.valid()) return errnoStatus(errno, "open rtnetlink monitor socket");
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = RTMGRP_IPV4_ROUTE | RTMGRP_LINK;
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
    const ssize_t n = ::recv(sock_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == ENOBUFS) on_change_();  // notifications were lost: assume the worst
      continue;
    }
    bool change = false;
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
    size_t len = static_cast<size_t>(n);
    for (; nl::messageOk(nlh, len); nlh = nl::nextMessage(nlh, len)) change |= matters(nlh);
    if (change) on_change_();
  }
}

}  // namespace quasar::routing
