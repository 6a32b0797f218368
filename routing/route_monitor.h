#pragma once
// Tells the routing agent at once when the kernel reports that one of quasar's node routes
// (protocol 114, in any table: the ENI tables' too) or policy rules (protocol 114) was deleted,
// or that a device those routes use (the uplink, tunl0, quasar.vxlan, the ENIs) went away or
// down: whoever did it, the agent's next pass puts things back in milliseconds instead of at its
// next periodic pass. Lost notifications (a full socket buffer, or one larger than the receive
// buffer) count as a change. A socket filter drops, in the kernel, the notifications every pod
// ADD and DEL bring, so pod churn does not wake the thread.
// Threading: one thread of its own; `on_change` runs on it and must be cheap (the agent only
// sets a flag).

#include <linux/netlink.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "routing/fd.h"

namespace quasar::routing {

class RouteMonitor {
 public:
  // Watches the calling thread's network namespace. `devices`: names whose removal (or going
  // down) matters.
  static absl::StatusOr<std::unique_ptr<RouteMonitor>> start(std::vector<std::string> devices,
                                                             std::function<void()> on_change);
  ~RouteMonitor();
  RouteMonitor(const RouteMonitor&) = delete;
  // Notifications that reached the thread (the kernel drops pod veths' and pod routes' first).
  uint64_t received() const { return received_.load(std::memory_order_relaxed); }
  RouteMonitor& operator=(const RouteMonitor&) = delete;

 private:
  RouteMonitor(Fd sock, Fd stop_read, Fd stop_write, std::vector<std::string> devices,
               std::function<void()> on_change);
  void run();
  // Whether one notification is one that calls for a pass.
  bool matters(const nlmsghdr* nlh) const;

  Fd sock_;
  Fd stop_read_;
  Fd stop_write_;
  std::vector<std::string> devices_;
  std::function<void()> on_change_;
  std::atomic<uint64_t> received_{0};
  std::thread thread_;
};

}  // namespace quasar::routing
