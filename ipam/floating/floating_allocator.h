#pragma once
// Cluster-wide floating-IP allocation (issue 13): which address a pod gets from the pools that
// serve its node, what happens to it when the pod goes (the release policy), and the garbage
// collection of addresses kept for workloads that are gone or scaled down.
//
// The truth is the LeaseStore, shared by every node: the allocator keeps no copy of the leases.
// Each call reads them (one range read) and changes one lease by compare-and-swap, so that two
// nodes racing for an address cannot both get it (the loser moves to the next address) and a
// daemon crash at any point leaves either the old lease or the new one, never two holders.
//
// Choice of an address for claim(), in this order:
//  (a) the lease bound to this attachment (claim is idempotent);
//  (b) a lease kept for the workload (unbound; or reserved for it by an operator): for a
//      StatefulSet or a pod without a controller, the lease of this pod identity
//      (namespace/name), also when it is still bound to an earlier pod of that name (another
//      uid: the API server deleted that pod, so its DEL is only late); for a Deployment or
//      ReplicaSet, any unbound lease of the workload, in pool order, lowest address first;
//  (c) the requested address: inside a pool serving the node, and free, kept for this
//      workload, or reserved (for this workload or for no one);
//  (d) the next free address of the first pool in order that serves the node and is below its
//      maxAllocated.
// With a requested address, (b) and (d) do not apply: the pod gets that address or an error.
// A rolling update of a Deployment with `immutable` does not wait for the old replica's
// address: the surge pod takes a fresh one when the workload holds no unbound lease (and the
// pool has room), so the workload holds replicas+surge addresses until gc() frees the extra
// once the old replica is gone. Galaxy waits instead and can deadlock a small Deployment.
//
// maxAllocated is checked against the leases read before the create, so nodes claiming at the
// same instant can pass it by at most one address each; uniqueness per address is exact.
//
// Errors name the pool, the address and the node, and carry an ipam::FailureReason
// (ipam/failure_reason.h: the plugin's codes 105-108) where the code alone is ambiguous:
//   FailedPrecondition  kNoPoolForNode: no pool serves the node, a listed pool does not exist,
//                       or the pod's kept address lies in a pool that does not serve this node;
//   ResourceExhausted   kPoolsFull: every pool is full ("every pool full for ... node n:
//                       a (10/10), b (80/80 maxAllocated)");
//   InvalidArgument     kOutsidePools: the requested address is outside every pool serving
//                       the node;
//   AlreadyExists       kAddressTaken: the requested address is taken ("... taken by pod ns/p
//                       on node n");
//   Unavailable         retry later: the store is unreachable, free addresses cool down, or
//                       compare-and-swap lost too often in a row.
//
// Threading: every method is thread-safe; store calls run outside the allocator's lock.
// Clock: callers pass the time (unix ms), so tests control the cool-down.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ipam/floating/lease.h"
#include "ipam/floating/lease_store.h"
#include "ipam/floating/pool.h"

namespace quasar::ipam::floating {

struct ClaimRequest {
  conf::Attachment attachment;
  LeasePod pod;
  WorkloadRef workload;  // resolved by the daemon; a pod without a controller: kind Pod
  ReleasePolicy policy = ReleasePolicy::kRelease;
  std::vector<std::string> pools;     // in order of preference; empty: every pool serving the
                                      // node, by name
  std::optional<conf::IpAddress> ip;  // a specific address (the CNI `ips` capability)
  NodeFacts node;
  int64_t now_unix_ms = 0;
};

struct ClaimResult {
  Lease lease;
  Pool pool;             // for the data path: gateway, vlan, mode
  bool created = false;  // false: the attachment already held it (a repeated ADD)
};

// What gc() needs to know of a workload, from a synced view of the cluster.
struct WorkloadStatus {
  bool exists = false;
  int64_t replicas = 0;  // the desired count (Deployment, ReplicaSet, StatefulSet)
};
// Called for WorkloadRefs with their uid: `exists` is for that very object (a workload
// recreated under the same name has another uid, and is another workload for `immutable`).
// Kind Pod (a pod without a controller) is answered by namespace/name: its uid changes with
// every incarnation. Its `immutable` address is kept while a pod of that name exists, so a
// delete followed by a recreate keeps it only if no gc() runs in between (the daemon may wait
// a grace period before it counts such a pod as gone); `never` keeps it regardless.
using WorkloadLiveness = std::function<WorkloadStatus(const WorkloadRef&)>;

struct FloatingPoolStats {
  std::string name;
  uint64_t capacity = 0;  // candidate addresses
  int64_t in_use = 0;     // bound + unbound + reserved
  int64_t bound = 0;
  int64_t unbound = 0;
  int64_t reserved = 0;
  int64_t cooling = 0;  // released, in the cool-down
  std::optional<int64_t> max_allocated;
};

class FloatingAllocator {
 public:
  struct Options {
    // A released address is not handed out again for this long (connections to the old pod
    // must not reach a new one). Kept as a tombstone lease, so it survives restarts.
    int64_t cooldown_ms = 30000;
    // Reads of the leases per call before giving up with Unavailable when compare-and-swap
    // keeps losing to other nodes.
    int max_passes = 4;
  };

  // `store` must outlive the allocator.
  FloatingAllocator(LeaseStore& store, Options options);
  FloatingAllocator(const FloatingAllocator&) = delete;
  FloatingAllocator& operator=(const FloatingAllocator&) = delete;

  // Replaces the pools (the daemon calls it on every change of the FloatingIPPool objects).
  // Leases of a pool that disappears stay until they are released.
  void setPools(std::vector<Pool> pools);
  std::vector<Pool> pools() const;

  absl::StatusOr<ClaimResult> claim(const ClaimRequest& request);

  // The pod's attachment is gone (CNI DEL). By the lease's policy: release -> the address is
  // freed (a tombstone for the cool-down); immutable/never -> unbound, kept for the workload
  // and the pod identity; reserved by an operator -> back to reserved. Idempotent: OK when the
  // attachment holds nothing.
  absl::Status release(const conf::Attachment& attachment, int64_t now_unix_ms) {
    return releaseImpl(attachment, now_unix_ms, /*used=*/true);
  }
  // A claim whose address no pod ever used (the node's commit after claim() failed): as
  // release(), but a `release` lease is deleted with no cool-down. Idempotent.
  absl::Status abandon(const conf::Attachment& attachment, int64_t now_unix_ms) {
    return releaseImpl(attachment, now_unix_ms, /*used=*/false);
  }

  // Frees what the release policies no longer keep: unbound `immutable` leases of a workload
  // that is gone, unbound extras of a Deployment/ReplicaSet holding more leases than replicas,
  // unbound leases of StatefulSet ordinals at or above replicas; and forgets tombstones whose
  // cool-down has passed. `never` leases and reservations are kept. Returns what was freed.
  // A lease changed meanwhile by another node is left for the next run.
  absl::StatusOr<std::vector<Lease>> gc(const WorkloadLiveness& alive, int64_t now_unix_ms);

  // quasarctl fip reserve: keeps `ip` of `pool` out of automatic allocation, for `workload`
  // when given (its pods then take it before any other) or for whoever requests it by address.
  // An address in use by that same workload is marked reserved (it then outlives its policy).
  // Idempotent. NotFound: no such pool; InvalidArgument: not an address of the pool;
  // AlreadyExists: held by someone else.
  absl::StatusOr<Lease> reserve(const conf::IpAddress& ip, const std::string& pool,
                                const std::optional<WorkloadRef>& workload, int64_t now_unix_ms);
  // quasarctl fip release: frees an unbound or reserved address now. A bound address loses its
  // reservation and gets the `release` policy: it is freed when its pod goes. NotFound when the
  // address is not held.
  absl::Status releaseByOperator(const conf::IpAddress& ip, int64_t now_unix_ms);

  // Every lease (tombstones included), by address: quasarctl fip list|show.
  absl::StatusOr<std::vector<Lease>> list();
  // One entry per configured pool, by name.
  absl::StatusOr<std::vector<FloatingPoolStats>> stats();

 private:
  struct PoolEntry {
    Pool pool;
    Candidates candidates;
  };
  using PoolSet = std::vector<std::shared_ptr<const PoolEntry>>;  // by name

  std::shared_ptr<const PoolSet> poolSet() const;
  // The pools to try for `request`, in order; FailedPrecondition when there are none.
  absl::StatusOr<PoolSet> order(const PoolSet& all, const ClaimRequest& request) const;
  // One pass of claim() over a fresh read of the leases. nullopt: lost a race, read again.
  absl::StatusOr<std::optional<ClaimResult>> claimPass(const PoolSet& all, const PoolSet& order,
                                                       const ClaimRequest& request);
  absl::Status releaseImpl(const conf::Attachment& attachment, int64_t now_unix_ms, bool used);
  // The lease becomes free: a tombstone while its cool-down runs, else deleted.
  absl::Status free(const StoredLease& s, int64_t now_unix_ms);
  bool cooling(const Lease& l, int64_t now_unix_ms) const;

  LeaseStore& store_;
  const Options options_;
  mutable std::mutex mu_;
  std::shared_ptr<const PoolSet> pools_;  // guarded by mu_; the set itself is immutable
};

}  // namespace quasar::ipam::floating
