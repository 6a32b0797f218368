#include "ipam/floating/lease.h"

#include "absl/strings/str_cat.h"

namespace quasar::ipam::floating {

absl::StatusOr<ReleasePolicy> parseReleasePolicy(std::string_view text) {
  if (text.empty() || text == "release") return ReleasePolicy::kRelease;
  if (text == "immutable") return ReleasePolicy::kImmutable;
  if (text == "never") return ReleasePolicy::kNever;
  return absl::InvalidArgumentError(absl::StrCat("release policy \"",
                                                 absl::string_view(text.data(), text.size()),
                                                 "\": want release, immutable or never"));
}

std::string_view toString(ReleasePolicy p) {
  switch (p) {
    case ReleasePolicy::kRelease:
      return "release";
    case ReleasePolicy::kImmutable:
      return "immutable";
    case ReleasePolicy::kNever:
      return "never";
  }
  return "?";
}

std::string_view toString(LeaseState s) {
  switch (s) {
    case LeaseState::kBound:
      return "bound";
    case LeaseState::kUnbound:
      return "unbound";
    case LeaseState::kReserved:
      return "reserved";
    case LeaseState::kReleased:
      return "released";
  }
  return "?";
}

std::string_view toString(WorkloadKind k) {
  switch (k) {
    case WorkloadKind::kStatefulSet:
      return "StatefulSet";
    case WorkloadKind::kDeployment:
      return "Deployment";
    case WorkloadKind::kReplicaSet:
      return "ReplicaSet";
    case WorkloadKind::kPod:
      return "Pod";
  }
  return "?";
}

absl::StatusOr<WorkloadKind> parseWorkloadKind(std::string_view text) {
  for (auto k : {WorkloadKind::kStatefulSet, WorkloadKind::kDeployment, WorkloadKind::kReplicaSet,
                 WorkloadKind::kPod}) {
    if (toString(k) == text) return k;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("workload kind \"", absl::string_view(text.data(), text.size()),
                   "\": want StatefulSet, Deployment, ReplicaSet or Pod"));
}

std::string describeHolder(const Lease& l) {
  auto workload = [&] {
    return absl::StrCat(std::string(toString(l.workload.kind)), " ", l.workload.namespace_, "/",
                        l.workload.name);
  };
  switch (l.state) {
    case LeaseState::kBound:
      return absl::StrCat("pod ", l.pod.namespace_, "/", l.pod.name, " on node ", l.node);
    case LeaseState::kUnbound:
      return absl::StrCat(workload(), " (", std::string(toString(l.policy)), ", unbound)");
    case LeaseState::kReserved:
      return l.workload.empty() ? std::string("an operator's reservation")
                                : absl::StrCat("a reservation for ", workload());
    case LeaseState::kReleased:
      return "nobody (cooling down)";
  }
  return "?";
}

}  // namespace quasar::ipam::floating
