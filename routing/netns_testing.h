#pragma once
// For netns tests only: a network namespace of their own that no name refers to.

#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <sched.h>

#include <algorithm>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "routing/fd.h"
#include "routing/netlink_socket.h"

namespace quasar::routing::testing {

// A new network namespace, unshared by a short-lived thread (the caller's own namespace stays
// as it was); it disappears with the last file descriptor to it. Invalid when unshare failed.
inline Fd unsharedNamespace() {
  Fd ns;
  std::thread([&ns] {
    if (::unshare(CLONE_NEWNET) == 0) ns = Fd(::open("/proc/thread-self/ns/net", O_RDONLY));
  }).join();
  return ns;
}

// Gives link `ifindex` `count` alternative names of 127 characters (RTM_NEWLINKPROP), which the
// kernel reports in every message about the link: a way to make that message large (300 make it
// ~40 kB, more than any fixed receive buffer).
inline absl::Status addAltNames(NetlinkSocket& sock, int ifindex, int count) {
  for (int i = 0; i < count; i += 50) {
    NlMessage m(RTM_NEWLINKPROP, NLM_F_REQUEST | NLM_F_EXCL | NLM_F_CREATE);
    m.putHeader<ifinfomsg>()->ifi_index = ifindex;
    const size_t list = m.nestStart(IFLA_PROP_LIST);
    for (int k = i; k < std::min(count, i + 50); ++k) {
      std::string name = std::to_string(k);
      name.resize(127, 'x');
      m.putString(IFLA_ALT_IFNAME, name);
    }
    m.nestEnd(list);
    if (auto s = sock.request(m, "add altnames"); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace quasar::routing::testing
