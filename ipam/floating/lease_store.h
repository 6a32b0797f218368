#pragma once
// The port through which the floating-IP allocator reaches the cluster's datastore: one lease
// per address, cluster-wide, changed only by compare-and-swap, so that two nodes racing for one
// address cannot both win. quasard implements it on its Store (daemon/cluster/
// store_lease_store.h); tests use MemoryLeaseStore (memory_lease_store.h).
//
// Contract (tested against every implementation by daemon/cluster/lease_store_contract_test.cc):
//  - a lease is keyed by its ip alone: at most one lease per address, whatever its pool;
//  - every write returns the lease's new revision, which strictly grows per store;
//  - errors: AlreadyExists (create of a held address), Aborted (update/remove whose expected
//    revision is not the lease's current one, also when the lease is gone), Unavailable (the
//    datastore is unreachable: retry later), others as the backend reports them.
// Implementations are thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "ipam/floating/lease.h"

namespace quasar::ipam::floating {

struct StoredLease {
  Lease lease;
  int64_t revision = 0;  // the compare-and-swap token of update() and remove()
  bool operator==(const StoredLease&) const = default;
};

class LeaseStore {
 public:
  virtual ~LeaseStore() = default;
  // Every lease of `pool`, or of every pool when `pool` is empty, sorted by address.
  virtual absl::StatusOr<std::vector<StoredLease>> list(const std::string& pool) = 0;
  virtual absl::StatusOr<std::optional<StoredLease>> get(const conf::IpAddress& ip) = 0;
  // AlreadyExists when a lease for lease.ip exists. Returns the new revision.
  virtual absl::StatusOr<int64_t> create(const Lease& lease) = 0;
  // Replaces the lease of lease.ip if its revision is still `expected_revision` (Aborted
  // otherwise). Returns the new revision.
  virtual absl::StatusOr<int64_t> update(const Lease& lease, int64_t expected_revision) = 0;
  // Deletes the lease of `ip` if its revision is still `expected_revision` (Aborted otherwise).
  virtual absl::Status remove(const conf::IpAddress& ip, int64_t expected_revision) = 0;
  // Where the leases live, for status output.
  virtual std::string describe() const = 0;
};

}  // namespace quasar::ipam::floating
