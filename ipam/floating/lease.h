#pragma once
// A lease: one floating address held in the cluster, by a pod, for a workload, or by an
// operator (issue 13). The LeaseStore (lease_store.h) holds one per address, cluster-wide.
//
// Pure values; thread-compatible.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "conf/net_conf.h"

namespace quasar::ipam::floating {

enum class LeaseState {
  kBound,     // a pod's attachment uses the address
  kUnbound,   // kept for its workload by the release policy; no pod uses it
  kReserved,  // an operator reserved it (quasarctl fip reserve), optionally for a workload
  kReleased,  // a tombstone: free, but not handed out again before the cool-down has passed
};

// What happens to the address when its pod is deleted (quasar.io/release-policy, or Galaxy's
// k8s.v1.cni.galaxy.io/release-policy).
enum class ReleasePolicy {
  kRelease,    // freed (the default)
  kImmutable,  // kept while the owning workload exists
  kNever,      // kept until an operator releases it, also after the workload is deleted
};

// "release", "immutable" or "never" (Galaxy's values, which are also quasar's). The empty string
// is the default, release. InvalidArgument otherwise.
absl::StatusOr<ReleasePolicy> parseReleasePolicy(std::string_view text);
std::string_view toString(ReleasePolicy p);
std::string_view toString(LeaseState s);

enum class WorkloadKind { kStatefulSet, kDeployment, kReplicaSet, kPod };
std::string_view toString(WorkloadKind k);
absl::StatusOr<WorkloadKind> parseWorkloadKind(std::string_view text);

// The owner an address is kept for. The daemon resolves it from the pod's owner chain: a
// ReplicaSet owned by a Deployment is the Deployment; a pod without a controller is its own
// workload (kind Pod, its namespace and name).
struct WorkloadRef {
  WorkloadKind kind = WorkloadKind::kPod;
  std::string namespace_;
  std::string name;
  std::string uid;
  bool empty() const { return name.empty(); }
  // Same kind, namespace and name (the uid is not compared: a workload recreated with the same
  // name is the same one for `never`).
  bool sameName(const WorkloadRef& o) const {
    return kind == o.kind && namespace_ == o.namespace_ && name == o.name;
  }
  bool operator==(const WorkloadRef&) const = default;
};

struct LeasePod {
  std::string namespace_;
  std::string name;
  std::string uid;
  bool sameName(const LeasePod& o) const { return namespace_ == o.namespace_ && name == o.name; }
  bool operator==(const LeasePod&) const = default;
};

struct Lease {
  std::string pool;
  conf::IpAddress ip;
  LeaseState state = LeaseState::kBound;
  ReleasePolicy policy = ReleasePolicy::kRelease;
  WorkloadRef workload;         // empty for an operator's reservation without a workload
  LeasePod pod;                 // bound: the pod; unbound: the pod that last held it
  std::string node;             // bound: the pod's node
  conf::Attachment attachment;  // bound only
  // When the lease entered its state: bound, unbound, reserved or released.
  int64_t since_unix_ms = 0;
  // When a pod last stopped using the address (0: never): the cool-down runs from here.
  int64_t released_unix_ms = 0;
  // Reserved by an operator: when its pod releases it, it goes back to kReserved; only
  // quasarctl fip release frees it.
  bool operator_reserved = false;
  bool operator==(const Lease&) const = default;
};

// "pod ns/name on node n", "reserved for Deployment ns/name", ...: for error messages and
// quasarctl.
std::string describeHolder(const Lease& l);

}  // namespace quasar::ipam::floating
