#pragma once
// Removes node-side pod veths in the background for DELs that quasard already answered, and
// only then lets their addresses be handed out again. Deleting a veth waits on the kernel's RCU
// grace periods (~20 ms on a 2-core node); this keeps that wait out of the runtime's DEL. The
// veths queued meanwhile go together (routing::deletePodLinks, one group of at most
// routing::kMaxLinksPerGroupDelete at a time, whose addresses are freed as soon as it is gone),
// so after a burst of DELs the waits are shared instead of queued one behind the other.
//
// Threading: one worker thread; enqueue() is thread-safe and never blocks on the kernel.
// At start-up, reconcile() removes veths that no allocation owns (left by a crash before the
// worker got to them) before the daemon serves.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "conf/ip.h"
#include "ipam/address_manager.h"

namespace quasar::daemon {

class VethReaper {
 public:
  explicit VethReaper(ipam::AddressManager& manager);
  ~VethReaper();  // finishes the queue, then joins

  void enqueue(std::string host_ifname, std::vector<conf::IpAddress> held_ips);
  // Deletes every quasar veth whose attachment holds no allocation. Returns how many.
  absl::StatusOr<int> reconcile();
  // Blocks until the queue is empty (tests, shutdown).
  void drain();
  // Blocks (up to `limit`) while `host_ifname` is queued or being removed: an ADD of the same
  // attachment right after its DEL must not find the old pair still there.
  void waitFor(const std::string& host_ifname, std::chrono::milliseconds limit);

 private:
  struct Job {
    std::string ifname;
    std::vector<conf::IpAddress> ips;
  };
  void run();

  ipam::AddressManager& manager_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::vector<std::string> current_;  // the veths being removed; empty when idle
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace quasar::daemon
