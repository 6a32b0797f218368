#pragma once
// For netns tests only: a network namespace of their own that no name refers to.

#include <fcntl.h>
#include <sched.h>

#include <thread>

#include "routing/fd.h"

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

}  // namespace quasar::routing::testing
