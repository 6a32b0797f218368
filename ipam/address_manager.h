#pragma once
// The node's IPAM: the durable record of every attachment, the address sources it takes addresses
// from (address_source.h: the pod-CIDR blocks built in, others registered), and the rules that
// keep an address from ever being handed out twice:
//  - an address is marked used in memory before its commit starts and freed only after its
//    release is durable, so no interleaving of calls hands it out twice;
//  - an allocation is durable before allocate() returns (group commit), and memory is rebuilt
//    from the store at start-up, so a crash loses nothing that a caller was told.
// Thread-safe: calls from many gRPC threads; the store commit runs outside the lock.

#include <functional>
#include <map>
#include <memory>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "ipam/address_source.h"
#include "ipam/allocation.h"
#include "ipam/allocation_store.h"
#include "ipam/block_source.h"
#include "ipam/group_committer.h"

namespace quasar::ipam {

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
    // Further sources by name (AllocateRequest::source); each must outlive the manager. The
    // pod-CIDR blocks are the source "".
    std::map<std::string, AddressSource*> sources = {};
    // How long a release waits for an attachment that another request is changing (an ADD's
    // claim that ends a moment after its plugin exited) before it answers Unavailable.
    std::chrono::milliseconds release_busy_wait = std::chrono::seconds(3);
  };

  // Loads the store's allocations. `store` must outlive the manager.
  static absl::StatusOr<std::unique_ptr<AddressManager>> create(const Options& options,
                                                                AllocationStore& store,
                                                                Clock clock);

  // The request's source's addresses: for the blocks, one address per family of the pod CIDRs
  // (or the requested ones). Idempotent per attachment, whatever the source.
  // FailedPrecondition: the request names a source the node does not have (or the source
  // cannot serve it).
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
  // A claimed attachment is released only with its `claim`: it waits up to release_busy_wait
  // for the claim to end (or a commit in flight to finish), then answers Unavailable.
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
  static constexpr char kBlocks[] = "";
  struct Entry {
    Allocation allocation;
    State state;
    uint64_t claim = 0;  // see AllocateRequest::claim
  };

  AddressManager(const Options& options, AllocationStore& store, Clock clock);
  absl::StatusOr<AllocateResult> allocateOnce(
      const AllocateRequest& request,
      const std::function<void(const AllocateResult&)>& on_reserved);
  // nullptr for a source the manager does not have.
  AddressSource* sourceOf(const std::string& name) const;
  // Addresses recorded for any attachment, pending ones included. Caller holds mu_.
  std::vector<conf::IpAddress> heldAddresses(const conf::IpPrefix& range) const;

  Clock clock_;
  Options options_;
  std::mutex claim_mu_;  // one range claim at a time
  GroupCommitter committer_;
  BlockSource blocks_;
  // Lock order: mu_, then a source's own lock.
  mutable std::mutex mu_;
  // Notified whenever an entry settles: committed, claim ended, or gone.
  std::condition_variable settled_;
  std::map<Attachment, Entry> entries_;
};

}  // namespace quasar::ipam
