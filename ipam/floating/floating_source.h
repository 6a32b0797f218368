#pragma once
// Floating IPs as an AddressSource (ipam/address_source.h). The AddressManager records the
// attachment in the node's store and commits it before ADD returns, as for every source; this
// source claims the address cluster-wide first (FloatingAllocator: a compare-and-swap in the
// shared LeaseStore), and on a pod's release hands it back by its release policy.
//
// The claim happens before the node's commit, so a crash in between leaves a lease bound to an
// attachment the node does not hold: reconcile() (run by quasard's GC) releases those, and
// retries releases that failed while the store was unreachable.
//
// Threading: thread-safe; every call may do store I/O (never under the manager's lock).

#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "ipam/address_source.h"
#include "ipam/floating/floating_allocator.h"

namespace quasar::ipam::floating {

// AllocateRequest::source_request for the floating source: what the daemon read from the pod's
// annotations and resolved from its owners.
struct FloatingRequest final : SourceRequest {
  WorkloadRef workload;
  ReleasePolicy policy = ReleasePolicy::kRelease;
  std::vector<std::string> pools;  // quasar.io/floating-ip-pools, in order; empty: any
};

class FloatingSource final : public AddressSource {
 public:
  static constexpr char kName[] = "floating";
  // The node as the pools see it now (its labels change).
  using NodeFactsFn = std::function<NodeFacts()>;

  // `allocator` must outlive the source.
  FloatingSource(FloatingAllocator& allocator, NodeFactsFn node);

  // Errors carry a FailureReason (ipam/failure_reason.h) where the code alone does not say.
  absl::StatusOr<std::vector<conf::IpAddress>> take(const AllocateRequest& request,
                                                    int64_t now_ms) override;
  void untake(const Allocation& allocation) override;
  void released(const Allocation& allocation, bool hold, int64_t now_ms) override;
  void endHold(const std::vector<conf::IpAddress>&, int64_t) override {}
  void restore(const Allocation&) override {}

  // Releases the leases bound to this node whose attachment `held` (asked after the leases are
  // read, so a claim in flight is in it: the manager holds the attachment before take()) does
  // not list: a crash between the claim and the node's commit, or a release the store missed.
  // Returns how many.
  absl::StatusOr<int> reconcile(const std::function<std::vector<conf::Attachment>()>& held,
                                int64_t now_ms);

  // The pool an address belongs to, for the data path; nullopt when none does (any more).
  std::optional<Pool> poolOf(const conf::IpAddress& ip) const;
  FloatingAllocator& allocator() { return allocator_; }

 private:
  FloatingAllocator& allocator_;
  NodeFactsFn node_;
};

}  // namespace quasar::ipam::floating
