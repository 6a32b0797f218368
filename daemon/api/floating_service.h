#pragma once
// The operator's side of floating IPs at the API (issue 13; quasarctl fip): every lease with its
// holder, policy and age, each pool's use, and reservations and releases by hand. QuasardService
// delegates its FloatingLeases, ReserveFloatingIp and ReleaseFloatingIp calls here.
//
// Every string of a request is checked before use (an address, a pool name as a DNS-1123
// subdomain, a workload "Kind/namespace/name" with Kind one of StatefulSet, Deployment,
// ReplicaSet, Pod and namespace and name DNS-1123 labels): InvalidArgument naming the field.
// Otherwise the allocator's errors pass through (floating_allocator.h).
//
// Thread-safe: the allocator is; this holds no state of its own.

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/api/quasard.pb.h"
#include "ipam/floating/floating_allocator.h"

namespace quasar::daemon {

class FloatingService {
 public:
  // Unix milliseconds; tests pass their own clock.
  using Clock = std::function<int64_t()>;

  // `allocator` must outlive this.
  explicit FloatingService(ipam::floating::FloatingAllocator& allocator, Clock now = {});

  absl::Status list(const quasar::api::v1::FloatingLeasesRequest& req,
                    quasar::api::v1::FloatingLeasesReply* reply);
  absl::Status reserve(const quasar::api::v1::ReserveFloatingIpRequest& req,
                       quasar::api::v1::FloatingLease* reply);
  absl::Status release(const quasar::api::v1::ReleaseFloatingIpRequest& req);

  // "Kind/namespace/name" to a WorkloadRef (no uid), InvalidArgument when malformed.
  static absl::StatusOr<ipam::floating::WorkloadRef> parseWorkload(const std::string& text);
  static void toPb(const ipam::floating::Lease& l, quasar::api::v1::FloatingLease* out);

 private:
  ipam::floating::FloatingAllocator& allocator_;
  Clock now_;
};

}  // namespace quasar::daemon
