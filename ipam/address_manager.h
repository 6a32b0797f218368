#pragma once
// The node's IPAM: allocators for its pod CIDRs, the durable record of every attachment, and the
// rules that keep an address from ever being handed out twice:
//  - an address is marked used in memory before its commit starts and freed only after its
//    release is durable, so no interleaving of calls hands it out twice;
//  - an allocation is durable before allocate() returns (group commit), and memory is rebuilt
//    from the store at start-up, so a crash loses nothing that a caller was told.
// Thread-safe: calls from many gRPC threads; the store commit runs outside the lock.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "ipam/allocation.h"
#include "ipam/allocation_store.h"
#include "ipam/group_committer.h"
#include "ipam/range_allocator.h"

namespace quasar::ipam {

struct AllocateRequest {
  Attachment attachment;
  std::string network;
  std::string netns;
  PodRef pod;
  std::vector<conf::IpAddress> requested_ips;
  // Non-zero: the caller's token. The attachment stays claimed by it, also when it already had
  // its allocation, until endClaim(): meanwhile every other allocate() and release() of it is
  // Unavailable and GC passes it by. The plugin's ADD holds it while it builds the interfaces.
  uint64_t claim = 0;
};

struct AllocateResult {
  Allocation allocation;
  bool created = false;
};

struct PoolStats {
  conf::IpPrefix cidr;
  RangeStats stats;
};

class AddressManager {
 public:
  // Unix time in milliseconds; injected so tests control the cool-down.
  using Clock = std::function<int64_t()>;

  struct Options {
    // The node's ranges at start: static pod CIDRs, or the blocks it already owns.
    std::vector<conf::IpPrefix> pod_cidrs;
    std::vector<conf::IpAddress> reserved;
    int64_t release_cooldown_ms = 30000;
    // Called (outside every lock, one call at a time) when every range is full: returns a new
    // range to allocate from (a freshly claimed block), or the reason there is none
    // (ResourceExhausted when the cluster has no free block). Null: no growth (static CIDRs).
    std::function<absl::StatusOr<conf::IpPrefix>()> claim_range;
    // Asked (under the manager's lock: it must be quick) before any address is handed out; an
    // error is returned as is. quasard: Unavailable while the node's ownership of its blocks
    // is unconfirmed (see daemon/cluster/node_registry.h). Null: always allowed.
    std::function<absl::Status()> allocation_gate = nullptr;
  };

  // Loads the store's allocations. `store` must outlive the manager.
  static absl::StatusOr<std::unique_ptr<AddressManager>> create(const Options& options,
                                                                AllocationStore& store,
                                                                Clock clock);

  // One address per family of the pod CIDRs (or the requested ones). Idempotent per attachment.
  // Unavailable (retry later): the attachment is mid-change, or free addresses are cooling down.
  // ResourceExhausted: no free address. InvalidArgument/AlreadyExists: a requested address is
  // outside the CIDRs, reserved or taken.
  // `on_reserved`, when given, is called once the addresses are reserved in memory and before
  // the commit starts (for an existing allocation: before returning it), so a caller can start
  // using them while the commit runs; it must not report them as durable.
  absl::StatusOr<AllocateResult> allocate(
      const AllocateRequest& request,
      const std::function<void(const AllocateResult&)>& on_reserved = nullptr);
  // Returns the released addresses; an unknown attachment releases nothing and succeeds.
  // With `hold`, the addresses are not handed out again until endHold() (their interface is
  // still being removed); the release itself is durable either way.
  // A claimed attachment is released only with its `claim` (Unavailable otherwise).
  absl::StatusOr<std::vector<conf::IpAddress>> release(const Attachment& attachment,
                                                       bool hold = false, uint64_t claim = 0);
  // Ends the claim `claim` on `attachment`; nothing when it is not (or no longer) that one's.
  void endClaim(const Attachment& attachment, uint64_t claim);
  void endHold(const std::vector<conf::IpAddress>& ips);
  // NotFound when the attachment holds nothing.
  absl::StatusOr<Allocation> get(const Attachment& attachment) const;
  // Every committed allocation, of `network` or of all networks when empty.
  std::vector<Allocation> list(const std::string& network) const;
  // Every attachment the manager holds in any state: being allocated, committed, or being
  // released. Its node-side veth must not be removed by anyone but its own DEL.
  std::vector<Attachment> heldAttachments() const;
  // The committed, unclaimed allocations of `network` whose attachment is not in `valid`.
  std::vector<Allocation> stale(const std::string& network,
                                const std::vector<Attachment>& valid) const;
  std::vector<PoolStats> stats();
  // Removes a range that holds no used, held or cooling address (a block given back);
  // FailedPrecondition otherwise.
  absl::Status removeRangeIfIdle(const conf::IpPrefix& range);
  // Removes a range whatever it holds (a block this node lost to another): nothing more is
  // handed out from it. Its allocations stay recorded and releasable (their pods keep running);
  // returns their addresses. NotFound when the range is not one of the node's.
  absl::StatusOr<std::vector<conf::IpAddress>> dropRange(const conf::IpPrefix& range);
  // Adds a range (a block claimed, or a give-back that failed in the datastore). Addresses of
  // it that allocations still hold (restored at start outside every range, or kept from when
  // the range was removed) are marked used, so they are not handed out twice.
  void addRange(const conf::IpPrefix& range);
  const GroupCommitter& committer() const { return committer_; }

 private:
  enum class State { kPending, kCommitted, kReleasing };
  struct Entry {
    Allocation allocation;
    State state;
    uint64_t claim = 0;  // see AllocateRequest::claim
  };

  AddressManager(const Options& options, AllocationStore& store, Clock clock);
  absl::StatusOr<AllocateResult> allocateOnce(
      const AllocateRequest& request,
      const std::function<void(const AllocateResult&)>& on_reserved);
  // Takes one address per family; on failure nothing stays taken. Caller holds mu_.
  absl::StatusOr<std::vector<conf::IpAddress>> take(const std::vector<conf::IpAddress>& requested,
                                                    int64_t now_ms);
  RangeAllocator* rangeFor(const conf::IpAddress& a);

  Clock clock_;
  Options options_;
  std::mutex claim_mu_;  // one range claim at a time
  GroupCommitter committer_;
  mutable std::mutex mu_;
  std::vector<RangeAllocator> ranges_;
  std::map<Attachment, Entry> entries_;
  // Releases restored at start outside every range: their cool-down still applies if the
  // range is added later.
  std::vector<std::pair<conf::IpAddress, int64_t>> outside_releases_;
};

}  // namespace quasar::ipam
