#pragma once
// Kubernetes apps/v1 StatefulSet, Deployment and ReplicaSet (namespaced): the fields quasar reads
// to find a pod's workload (daemon/cluster/workloads.h) for floating-IP release policies (issue
// 13): metadata (uid, labels, annotations, ownerReferences: a ReplicaSet's owning Deployment) and
// spec.replicas. Everything else (selector, template, status) is not held.
//
// spec.replicas defaults to 1 when absent (spec absent too), as the API server defaults it; it
// must be an integer in [0, 2^31-1].
//
// Pure values; thread-compatible.

#include <cstdint>

#include "absl/status/statusor.h"
#include "daemon/cluster/objects/meta.h"
#include "nlohmann/json.hpp"

namespace quasar::objects {

struct StatefulSet {
  ObjectMeta metadata;
  int32_t replicas = 1;  // spec.replicas
  bool operator==(const StatefulSet&) const = default;
};

struct Deployment {
  ObjectMeta metadata;
  int32_t replicas = 1;  // spec.replicas
  bool operator==(const Deployment&) const = default;
};

struct ReplicaSet {
  ObjectMeta metadata;   // ownerReferences: the controlling Deployment, if any
  int32_t replicas = 1;  // spec.replicas
  bool operator==(const ReplicaSet&) const = default;
};

// InvalidArgument naming the object and the field; never throw.
absl::StatusOr<StatefulSet> parseStatefulSet(const nlohmann::json& j);
absl::StatusOr<Deployment> parseDeployment(const nlohmann::json& j);
absl::StatusOr<ReplicaSet> parseReplicaSet(const nlohmann::json& j);

}  // namespace quasar::objects
