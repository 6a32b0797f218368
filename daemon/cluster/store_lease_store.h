#pragma once
// ipam::floating::LeaseStore on the cluster datastore (daemon/store/store.h): one key per
// address, fips/<ip> (cluster_keys.h), holding the lease as JSON. create() is a transaction on
// "the key is absent", update() and remove() on "its mod revision is still the one read", so
// the datastore's compare-and-swap (SQLite's single writer, etcd's txn) decides every race;
// a lease's revision is its key's mod revision.
//
// A value that does not decode (written by a newer quasard, or damaged) is logged and left out
// of list(); its key still makes create() of that address fail, so it is never handed out
// twice. get() returns DataLoss for it.
//
// Thread-safe (the Store is). Errors: the Store's (Unavailable when it is unreachable), plus
// the contract's AlreadyExists and Aborted.

#include <string>

#include "daemon/store/store.h"
#include "ipam/floating/lease_store.h"
#include "nlohmann/json.hpp"

namespace quasar::daemon {

// The stored form of a lease; never throws.
nlohmann::json leaseToJson(const ipam::floating::Lease& lease);
// InvalidArgument naming the field when `j` is not a lease.
absl::StatusOr<ipam::floating::Lease> leaseFromJson(const nlohmann::json& j);

class StoreLeaseStore final : public ipam::floating::LeaseStore {
 public:
  // `store` must outlive this object.
  explicit StoreLeaseStore(Store& store) : store_(store) {}

  absl::StatusOr<std::vector<ipam::floating::StoredLease>> list(const std::string& pool) override;
  absl::StatusOr<std::optional<ipam::floating::StoredLease>> get(
      const conf::IpAddress& ip) override;
  absl::StatusOr<int64_t> create(const ipam::floating::Lease& lease) override;
  absl::StatusOr<int64_t> update(const ipam::floating::Lease& lease,
                                 int64_t expected_revision) override;
  absl::Status remove(const conf::IpAddress& ip, int64_t expected_revision) override;
  std::string describe() const override { return store_.describe(); }

 private:
  Store& store_;
};

}  // namespace quasar::daemon
