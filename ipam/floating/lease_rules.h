#pragma once
// Which lease a workload's pod may take back (claim step (b) of floating_allocator.h). Pure.

#include "ipam/floating/lease.h"

namespace quasar::ipam::floating {

// StatefulSets and pods without a controller keep addresses per pod identity (namespace/name);
// Deployments and ReplicaSets keep them for the workload as a whole.
inline bool isIdentityKind(WorkloadKind k) {
  return k == WorkloadKind::kStatefulSet || k == WorkloadKind::kPod;
}

// The lease belongs to `w` by its policy: same kind, namespace and name; for `immutable` also
// the same uid (a workload recreated under the same name is another one), except for kind Pod,
// whose uid changes with every incarnation; `never` outlives the workload, so a recreated one
// takes it back.
inline bool keptForWorkload(const Lease& l, const WorkloadRef& w) {
  if (l.workload.empty() || !l.workload.sameName(w)) return false;
  if (l.policy == ReleasePolicy::kImmutable && w.kind != WorkloadKind::kPod &&
      !l.workload.uid.empty() && !w.uid.empty() && l.workload.uid != w.uid) {
    return false;
  }
  return true;
}

inline constexpr int kRankUnbound = 1;     // kept, no pod uses it
inline constexpr int kRankStaleBound = 2;  // still bound to an earlier pod of this identity
inline constexpr int kRankReserved = 3;    // reserved for the workload by an operator

// 0 when the pod `pod` of workload `w` may not take `l`; else how good a choice it is (lower is
// better). A bound lease of the same identity with another pod uid is stale: the API server
// allows one pod per namespace/name, so the pod it was bound to has been deleted and only its
// DEL is late (e.g. its node died).
inline int keptRank(const Lease& l, const WorkloadRef& w, const LeasePod& pod) {
  const bool identity = isIdentityKind(w.kind);
  switch (l.state) {
    case LeaseState::kUnbound:
      if (!keptForWorkload(l, w)) return 0;
      return !identity || l.pod.sameName(pod) ? kRankUnbound : 0;
    case LeaseState::kBound:
      if (!identity || l.policy == ReleasePolicy::kRelease || !keptForWorkload(l, w)) return 0;
      if (!l.pod.sameName(pod) || l.pod.uid.empty() || pod.uid.empty() || l.pod.uid == pod.uid) {
        return 0;
      }
      return kRankStaleBound;
    case LeaseState::kReserved:
      if (l.workload.empty() || !l.workload.sameName(w)) return 0;
      // A reservation a pod of a StatefulSet held before goes back to that pod.
      if (identity && !l.pod.name.empty() && !l.pod.sameName(pod)) return 0;
      return kRankReserved;
    case LeaseState::kReleased:
      return 0;
  }
  return 0;
}

}  // namespace quasar::ipam::floating
