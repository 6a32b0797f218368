#pragma once
// Which address source a pod's ADD takes from, read from its annotations (issue 13):
//   quasar.io/floating-ip: "true"        the floating-IP source, any pool serving the node;
//   quasar.io/floating-ip-pools: "a,b"   the floating-IP source, these pools in this order
//                                        (the next when one is full or at its maximum);
//   a requested address (the CNI `ips` capability) inside a floating-IP pool's subnet;
//   anything else                        the node's pod-CIDR blocks.
// quasar.io/release-policy (release | immutable | never; Galaxy's
// k8s.v1.cni.galaxy.io/release-policy is read as a synonym, quasar's key wins) says what happens
// to a floating address when its pod goes.
//
// `workload` is asked only for a floating pod. Pure apart from it: no I/O. InvalidArgument naming
// the annotation for a value it cannot use.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ipam/allocation.h"
#include "ipam/floating/lease.h"
#include "ipam/floating/pool.h"

namespace quasar::daemon {

inline constexpr char kFloatingIpAnnotation[] = "quasar.io/floating-ip";
inline constexpr char kFloatingIpPoolsAnnotation[] = "quasar.io/floating-ip-pools";
inline constexpr char kReleasePolicyAnnotation[] = "quasar.io/release-policy";
inline constexpr char kGalaxyReleasePolicyAnnotation[] = "k8s.v1.cni.galaxy.io/release-policy";

struct AddressChoice {
  std::string source;  // AllocateRequest::source
  std::shared_ptr<const ipam::SourceRequest> request;
};

absl::StatusOr<AddressChoice> chooseAddressSource(
    const std::map<std::string, std::string>& annotations,
    const std::vector<conf::IpAddress>& requested_ips,
    const std::vector<ipam::floating::Pool>& pools,
    const std::function<ipam::floating::WorkloadRef()>& workload);

}  // namespace quasar::daemon
