#pragma once
// The node's ENIs and their secondary addresses (docs/eni.md): which interfaces quasar may use,
// which addresses are warm (assigned in the cloud, free), handed out, held or cooling down, and
// how the pool follows AWS's warm targets. The cloud sits behind cloud::CloudProvider.
//
// Interfaces: the pool uses the primary (device 0) only in the kPrimaryServesPods form; besides
// it only interfaces quasar created (tag cloud::kNodeTag = the node's name; those it may also
// detach and delete) or that carry the configured usable tag (addresses only, never detached).
// An interface of another type than EC2's plain "interface" (efa, efa-only, trunk, branch) or
// with an excluded tag key is never touched, whatever its tags; neither is any other interface
// (it still takes a device index).
//
// Warm targets, AWS VPC CNI's meanings (its docs/eni-and-ip-target.md):
//   warm_ip_target     free addresses to keep;
//   minimum_ip_target  the floor of addresses (handed out + free) the node holds;
//   warm_eni_target    used only when both above are 0: whole ENIs' worth of free addresses;
//                      addresses are then assigned and given back a whole ENI at a time.
// The pool never holds more addresses than the node's address capacity (PoolStatus::capacity):
// the warm targets are capped by it. Surplus beyond the targets is given back only after it has
// lasted surplus_cooldown_ms (unassigned; an empty interface of quasar's detached and deleted).
// A released address cools down reuse_cooldown_ms before it is handed out again (AWS's
// IP_COOLDOWN_PERIOD: conntrack entries and peers' caches of the old pod).
//
// Threading: thread-safe. One mutex guards the state and is never held during a cloud call;
// take() with a warm address makes no cloud call. Growth (creating an interface) is serialized,
// and so are refill() and start().

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "ipam/cloud/cloud_provider.h"
#include "ipam/eni/limits.h"

namespace quasar::ipam::eni {

// Whether the cloud certainly did not act on a call that failed with `s` (it refused the
// request's values, its permissions or its state); otherwise the outcome is unknown.
bool definiteRefusal(const absl::Status& s);

struct PoolConfig {
  std::string node_name;                     // the value of cloud::kNodeTag on quasar's ENIs
  std::string subnet_id;                     // for new ENIs; empty: the instance's
  std::vector<std::string> security_groups;  // for new ENIs; empty: the primary's
  int warm_ip_target = 0;
  int minimum_ip_target = 0;
  int warm_eni_target = 1;
  MaxPodsFormula formula = MaxPodsFormula::kPrimaryServesPods;
  int max_pods = 0;  // the kubelet's --max-pods; 0: the formula's
  int64_t surplus_cooldown_ms = 60'000;
  int64_t reuse_cooldown_ms = 30'000;
  // Interfaces with this tag are usable too (key, value), besides quasar's own.
  std::optional<std::pair<std::string, std::string>> usable_tag;
  // Interfaces with any of these tag keys (e.g. an RDMA tag) are never touched.
  std::vector<std::string> excluded_tag_keys;
};

// An interface the pool uses, as the data path needs it.
struct InterfaceInfo {
  std::string id;
  std::string mac;
  std::string subnet_id;
  std::string attachment_id;
  int device_index = -1;
  conf::IpPrefix subnet_cidr;  // the VPC router is its first address + 1
  conf::IpAddress primary_ip;
  bool created_by_quasar = false;
  bool operator==(const InterfaceInfo&) const = default;
};

struct HandedOut {
  conf::IpAddress ip;
  InterfaceInfo interface;
};

struct InterfaceStatus {
  InterfaceInfo interface;
  int used = 0, free = 0, held = 0, cooling = 0, pending = 0;
};

// For `quasarctl status`.
struct PoolStatus {
  bool started = false;
  std::string start_error;
  std::string instance_id, instance_type;
  cloud::InstanceLimits instance_limits;
  PodLimits limits;
  int capacity = 0;  // limits.address_capacity, less interfaces quasar may not use
  int assigned = 0, used = 0, free = 0, held = 0, cooling = 0;
  int desired = 0;  // addresses the warm targets want the node to hold now
  int warm_ip_target = 0, minimum_ip_target = 0, warm_eni_target = 0;
  std::vector<InterfaceStatus> interfaces;
  std::vector<std::string> untouched;  // attached interfaces quasar leaves alone
  std::vector<conf::IpAddress> lost;   // restored, but the cloud no longer shows them
  std::string last_refill_error;       // empty when the last refill succeeded
  int64_t last_refill_ms = 0;
};

class EniPool {
 public:
  // `cloud` must outlive the pool. `cold_cloud` (may be null: `cloud`), the same cloud with a
  // short deadline, serves the calls an ADD waits on (take()'s cold path): a throttled cloud
  // then fails that ADD quickly (try again) instead of holding it for the refill's deadline.
  EniPool(PoolConfig config, cloud::CloudProvider& cloud,
          cloud::CloudProvider* cold_cloud = nullptr);

  // Reads the instance and its attached interfaces, adopts quasar's (an interface quasar created
  // but had not attached when it died is attached, or deleted when no device index is free),
  // and reconciles their addresses with those restore() recorded: a restored address the cloud
  // no longer shows is never handed out again (lost); an address the cloud shows that no
  // allocation holds is adopted as free (and given back as surplus). Idempotent once it
  // succeeded; on failure (e.g. Unavailable) nothing is handed out and refill() retries it.
  absl::Status start();
  bool started() const;

  // One address. A warm one makes no cloud call; with none warm and capacity left it assigns
  // one now (one AssignPrivateIpAddresses; create + attach first when every interface is full).
  // Errors: Unavailable (not started, the cloud throttled or down, or only cooling addresses
  // left), ResourceExhausted with FailureReason kNodeAddressLimit (the node holds its capacity
  // in addresses and all are in use: the message names the instance type and the formula), or
  // the cloud's ResourceExhausted (the subnet is full).
  absl::StatusOr<conf::IpAddress> take(int64_t now_ms);
  // Never handed out (the commit failed): free again at once.
  void untake(const conf::IpAddress& ip);
  // The pod's release is durable: the address cools down (with `hold`: until endHold()).
  void released(const conf::IpAddress& ip, bool hold, int64_t now_ms);
  void endHold(const conf::IpAddress& ip, int64_t now_ms);
  // Start-up: an allocation the node's store holds. Before start(), or after it.
  void restore(const conf::IpAddress& ip);

  // Brings the free addresses to the targets within capacity, and gives surplus back after the
  // cool-down; starts the pool first if start() has not succeeded. Returns the first error (the
  // pool stays usable: a take() with a warm address never waits on it). Call it from one agent
  // thread, or from several: passes are serialized.
  absl::Status refill(int64_t now_ms);

  // For the data path: every handed-out address and its interface; the interfaces the pool uses.
  std::vector<HandedOut> handedOut() const;
  std::optional<InterfaceInfo> interfaceOf(const conf::IpAddress& ip) const;
  std::vector<InterfaceInfo> interfaces() const;
  // Valid after start().
  PodLimits limits() const;
  PoolStatus status() const;

 private:
  struct Slot {
    InterfaceInfo info;
    std::set<conf::IpAddress> free, used, held;
    std::map<conf::IpAddress, int64_t> cooling;  // address -> when it may be handed out
    int pending = 0;                             // addresses being assigned
    int releasing = 0;  // addresses being unassigned: the cloud still counts them
    // Given back with an unknown outcome (the reply was lost): the cloud may have taken them
    // and handed them to someone else, so they are never handed out before resync() has read
    // the interface again; counted as held until then.
    std::set<conf::IpAddress> uncertain;
    uint64_t changes = 0;  // completed assignments and give-backs: resync() skips a slot that
                           // changed while it read the cloud
    int assigned() const {
      return static_cast<int>(free.size() + used.size() + held.size() + cooling.size() +
                              uncertain.size());
    }
    // What the interface holds as the cloud may see it.
    int occupied() const { return assigned() + pending + releasing; }
    bool idle() const {
      return used.empty() && held.empty() && cooling.empty() && pending == 0 && releasing == 0;
    }
  };
  enum class Use { kPool, kUntouched };

  // All callers hold mu_.
  int assignedLocked() const;  // occupied() of every slot
  int capacityLocked() const;
  int desiredLocked() const;
  bool ipTargetsSet() const { return config_.warm_ip_target > 0 || config_.minimum_ip_target > 0; }
  int interfacesHeldLocked() const;   // quasar's usable interfaces, coming and going included
  int interfacesToAddLocked() const;  // interfaces the pool may still create and attach
  int lowestFreeDeviceLocked() const;
  Slot* slotWithRoomLocked();
  std::optional<conf::IpAddress> takeFreeLocked(int64_t now_ms);
  absl::Status limitErrorLocked() const;
  Slot* slotOfLocked(const conf::IpAddress& ip, std::set<conf::IpAddress> Slot::*state);

  // Start-up (eni_pool_start.cc). Callers hold refill_mu_.
  absl::Status startLocked();
  Use classify(const cloud::NetworkInterface& nic) const;
  absl::StatusOr<conf::IpPrefix> subnetCidr(const std::string& subnet_id);

  // Growth and give-back (eni_refill.cc). Callers hold no mu_.
  // Assigns up to `count` addresses (within capacity) on one interface with room: the first
  // `use_now` go straight to used (the cold path), the rest to free. count 0 in the result: no
  // interface has room.
  struct Assigned {
    int count = 0;
    std::vector<conf::IpAddress> taken;
  };
  absl::StatusOr<Assigned> assignSome(cloud::CloudProvider& cloud, int count, int use_now);
  // Creates, attaches and adds one interface, unless one with room exists meanwhile.
  // From take() (`for_add`): Unavailable when another creation still runs after 2 s, rather
  // than waiting for the refill's whole deadline.
  absl::Status grow(cloud::CloudProvider& cloud, bool for_add);
  absl::Status giveBackSurplus(int64_t now_ms);
  absl::Status releaseInterface(const std::string& id);
  // Re-reads the instance's interfaces when resync_ is set (an outcome was unknown, the cloud
  // refused an assignment the books said had room) or every kResyncMs, and makes each slot
  // that did not change meanwhile match the cloud (eni_resync.cc). Callers hold refill_mu_.
  absl::Status resync(int64_t now_ms);
  void retryDeletes();
  // Marks every interface in unmarked_ to be deleted with the instance; the first error.
  absl::Status markDeleteOnTermination();

  const PoolConfig config_;
  cloud::CloudProvider& cloud_;
  cloud::CloudProvider& cold_cloud_;
  std::mutex refill_mu_;  // one refill() or start() at a time; taken before mu_
  mutable std::mutex mu_;
  // One interface creation at a time: growing_ (under mu_) is set while one runs; grow_done_
  // wakes the next. Not a std::timed_mutex: an ADD waits for another creation only 2 s, and
  // TSan (gcc 12) does not see the lock that timed_mutex::try_lock_for takes.
  bool growing_ = false;
  std::condition_variable grow_done_;
  bool started_ = false;
  std::string start_error_;
  cloud::Instance instance_;
  PodLimits limits_;
  std::string new_subnet_id_;
  std::vector<std::string> new_security_groups_;
  std::map<std::string, conf::IpPrefix> subnet_cidrs_;  // written by start() and grow()
  std::map<std::string, Slot> slots_;                   // by interface id
  std::map<int, std::string> devices_;    // every attached (or attaching) device index
  std::vector<std::string> untouched_;    // attached interfaces the pool leaves alone
  std::map<std::string, int> to_delete_;  // detached (or detaching) quasar ENIs: id -> device
  // quasar's attached ENIs the cloud would leave behind when the instance terminates:
  // id -> attachment id. Marked by refill(), off the ADD's path.
  std::map<std::string, std::string> unmarked_;
  int creating_ = 0;                      // interface creations in flight
  std::set<conf::IpAddress> restored_;    // restore() before start()
  std::set<conf::IpAddress> lost_;
  int64_t surplus_since_ = -1;
  bool resync_ = false;
  int64_t last_resync_ms_ = -1;
  std::string last_refill_error_;
  int64_t last_refill_ms_ = 0;
};

}  // namespace quasar::ipam::eni
