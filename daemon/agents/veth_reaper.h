#pragma once
// Removes node-side pod veths in the background for DELs that quasard already answered, and
// only then lets their addresses be handed out again. Deleting a veth waits on the kernel's RCU
// grace periods (~20 ms on a 2-core node); this keeps that wait out of the runtime's DEL. The
// veths queued meanwhile go together (routing::deletePodLinksByIndex, one group of at most
// routing::kMaxLinksPerGroupDelete at a time, whose addresses are freed as soon as it is gone),
// so after a burst of DELs the waits are shared instead of queued one behind the other.
//
// A veth is queued by its interface index, taken while its attachment still held it: the
// reaper removes exactly the pair that was released, never a newer one made under the same
// name by the next ADD of the attachment.
//
// Threading: one worker thread; enqueue() is thread-safe and never blocks on the kernel.
// At start-up, reconcile() removes veths that no allocation owns (left by a crash before the
// worker got to them) before the daemon serves.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "conf/ip.h"
#include "ipam/address_manager.h"
#include "routing/pod_link.h"

namespace quasar::daemon {

// The node's pod veths as the reaper sees them: routing's functions in quasard, a fake in tests.
class VethLinks {
 public:
  virtual ~VethLinks() = default;
  // NotFound when there is no such interface.
  virtual absl::StatusOr<int> index(const std::string& host_ifname) = 0;
  virtual absl::StatusOr<std::vector<routing::HostVeth>> list() = 0;
  // One result per index; an index that no longer exists is removed.
  virtual std::vector<absl::Status> remove(const std::vector<int>& host_ifindexes) = 0;
};

class VethReaper {
 public:
  explicit VethReaper(ipam::AddressManager& manager);
  VethReaper(ipam::AddressManager& manager, std::unique_ptr<VethLinks> links);
  ~VethReaper();  // finishes the queue, then joins

  // The index to enqueue `host_ifname` by; 0 when it does not exist (nothing to remove).
  // Call it while the attachment still holds the veth, i.e. before releasing it.
  absl::StatusOr<int> indexOf(const std::string& host_ifname);
  // Removes the interface `host_ifindex` (the pair `host_ifname` had when it was released),
  // then ends the hold on `held_ips`. Index 0: nothing to remove; the hold ends at once.
  void enqueue(std::string host_ifname, int host_ifindex, std::vector<conf::IpAddress> held_ips);
  // Deletes every quasar veth whose attachment quasard holds in no state (see
  // AddressManager::heldAttachments), that is not queued here and whose name is not in `keep`.
  // Returns how many. Relies on ADDs making their veth only once quasard holds the attachment.
  absl::StatusOr<int> removeOrphans(const std::set<std::string>& keep = {});
  absl::StatusOr<int> reconcile() { return removeOrphans(); }
  // Blocks until the queue is empty (tests, shutdown).
  void drain();
  // Blocks (up to `limit`) while `host_ifname` is queued or being removed: an ADD of the same
  // attachment right after its DEL must not find the old pair still there. False when it still
  // is after `limit`.
  [[nodiscard]] bool waitFor(const std::string& host_ifname, std::chrono::milliseconds limit);

 private:
  struct Job {
    std::string ifname;
    int ifindex;
    std::vector<conf::IpAddress> ips;
  };
  void run();

  ipam::AddressManager& manager_;
  std::unique_ptr<VethLinks> links_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::vector<std::string> current_;  // the veths being removed; empty when idle
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace quasar::daemon
