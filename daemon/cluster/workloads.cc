#include "daemon/cluster/workloads.h"

namespace quasar::daemon {

using objects::OwnerReference;

std::string_view workloadKindName(WorkloadKind kind) {
  switch (kind) {
    case WorkloadKind::kPod:
      return "Pod";
    case WorkloadKind::kStatefulSet:
      return "StatefulSet";
    case WorkloadKind::kDeployment:
      return "Deployment";
    case WorkloadKind::kReplicaSet:
      return "ReplicaSet";
    case WorkloadKind::kOther:
      return "Other";
  }
  return "Other";
}

std::shared_ptr<const objects::StatefulSet> ViewWorkloadLookup::statefulSet(
    const std::string& namespace_, const std::string& name) const {
  return view_.get<objects::StatefulSet>(namespace_, name);
}
std::shared_ptr<const objects::Deployment> ViewWorkloadLookup::deployment(
    const std::string& namespace_, const std::string& name) const {
  return view_.get<objects::Deployment>(namespace_, name);
}
std::shared_ptr<const objects::ReplicaSet> ViewWorkloadLookup::replicaSet(
    const std::string& namespace_, const std::string& name) const {
  return view_.get<objects::ReplicaSet>(namespace_, name);
}

namespace {

// apps/<any version>: the group is what names the kind, not the version.
bool isApps(const OwnerReference& ref, std::string_view kind) {
  return ref.kind == kind && ref.api_version.rfind("apps/", 0) == 0;
}

Workload named(WorkloadKind kind, const std::string& namespace_, const OwnerReference& ref) {
  Workload w;
  w.kind = kind;
  w.kind_name = std::string(workloadKindName(kind));
  w.namespace_ = namespace_;
  w.name = ref.name;
  w.uid = ref.uid;
  return w;
}

// `ref`'s object when `found` is it (same uid): exists, with its replicas.
template <class T>
Workload found(WorkloadKind kind, const std::string& namespace_, const OwnerReference& ref,
               const std::shared_ptr<const T>& object) {
  Workload w = named(kind, namespace_, ref);
  if (object != nullptr && object->metadata.uid == ref.uid) {
    w.exists = true;
    w.replicas = object->replicas;
  }
  return w;
}

}  // namespace

Workload resolveWorkload(const objects::Pod& pod, const WorkloadLookup& lookup) {
  const std::string& ns = pod.metadata.namespace_;
  const OwnerReference* controller = pod.metadata.controllerRef();
  if (controller == nullptr) {
    Workload w;
    w.kind_name = std::string(workloadKindName(WorkloadKind::kPod));
    w.namespace_ = ns;
    w.name = pod.metadata.name;
    w.uid = pod.metadata.uid;
    w.replicas = 1;
    w.exists = true;
    return w;
  }
  if (isApps(*controller, "StatefulSet")) {
    return found(WorkloadKind::kStatefulSet, ns, *controller,
                 lookup.statefulSet(ns, controller->name));
  }
  if (!isApps(*controller, "ReplicaSet")) {
    Workload w = named(WorkloadKind::kOther, ns, *controller);
    w.kind_name = controller->kind;
    w.exists = true;
    return w;
  }
  auto rs = lookup.replicaSet(ns, controller->name);
  Workload as_rs = found(WorkloadKind::kReplicaSet, ns, *controller, rs);
  if (!as_rs.exists) return as_rs;
  const OwnerReference* rs_controller = rs->metadata.controllerRef();
  if (rs_controller == nullptr || !isApps(*rs_controller, "Deployment")) return as_rs;
  Workload w = found(WorkloadKind::kDeployment, ns, *rs_controller,
                     lookup.deployment(ns, rs_controller->name));
  w.via_replica_set = rs->metadata.name;
  return w;
}

Workload resolveWorkload(const objects::Pod& pod, const ObjectView& view) {
  return resolveWorkload(pod, ViewWorkloadLookup(view));
}

}  // namespace quasar::daemon
