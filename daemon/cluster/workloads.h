#pragma once
// A pod's workload: what owns its floating IP under the release policies `immutable` and
// `never` (issue 13). Found by following the controller ownerReference (controller: true) chain
// Pod -> ReplicaSet -> Deployment, or Pod -> StatefulSet:
//
//   the pod's controller             the workload
//   none                             the Pod itself (replicas 1)
//   StatefulSet s                    StatefulSet s
//   ReplicaSet r, r's controller a   Deployment a (via_replica_set = r)
//     Deployment
//   ReplicaSet r, no Deployment      ReplicaSet r
//     controller
//   any other kind (DaemonSet, Job,  kOther: the controller as the pod names it (not looked up:
//     a custom controller)           the view does not hold those kinds; exists is true)
//
// Owners live in the pod's namespace (ownerReferences never cross namespaces) and are matched
// by group (apps), kind and name. An owner the chain names but the lookup does not hold, or
// holds with another uid (deleted and re-created under the same name, which is a new object to
// Kubernetes' garbage collector too), gives exists = false, replicas 0 and the uid the
// reference names. A ReplicaSet that is gone hides whether a Deployment owned it: the workload
// is then that ReplicaSet (exists false); callers that need the Deployment retry once the view
// has caught up, or treat the workload as gone.
//
// Pure functions over the lookup; thread-safe when the lookup is (the ObjectView is).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "daemon/cluster/object_view.h"
#include "daemon/cluster/objects/apps.h"
#include "daemon/cluster/objects/pod.h"

namespace quasar::daemon {

enum class WorkloadKind { kPod, kStatefulSet, kDeployment, kReplicaSet, kOther };
// "Pod", "StatefulSet", "Deployment", "ReplicaSet", "Other".
std::string_view workloadKindName(WorkloadKind kind);

struct Workload {
  WorkloadKind kind = WorkloadKind::kPod;
  std::string kind_name;  // as workloadKindName(), or the controller's kind for kOther
  std::string namespace_;
  std::string name;
  std::string uid;
  int32_t replicas = 0;  // spec.replicas; 1 for a Pod; 0 when !exists or kOther
  bool exists = false;
  std::string via_replica_set;  // a Deployment's pods: the ReplicaSet between them

  // "Deployment shop/web", for logs and errors.
  std::string ref() const { return kind_name + " " + namespace_ + "/" + name; }
  bool operator==(const Workload&) const = default;
};

// The owners the resolver looks up by namespace and name; null when not held.
class WorkloadLookup {
 public:
  virtual ~WorkloadLookup() = default;
  virtual std::shared_ptr<const objects::StatefulSet> statefulSet(
      const std::string& namespace_, const std::string& name) const = 0;
  virtual std::shared_ptr<const objects::Deployment> deployment(const std::string& namespace_,
                                                                const std::string& name) const = 0;
  virtual std::shared_ptr<const objects::ReplicaSet> replicaSet(const std::string& namespace_,
                                                                const std::string& name) const = 0;
};

// The lookup over an ObjectView (which must outlive it).
class ViewWorkloadLookup final : public WorkloadLookup {
 public:
  explicit ViewWorkloadLookup(const ObjectView& view) : view_(view) {}
  std::shared_ptr<const objects::StatefulSet> statefulSet(const std::string& namespace_,
                                                          const std::string& name) const override;
  std::shared_ptr<const objects::Deployment> deployment(const std::string& namespace_,
                                                        const std::string& name) const override;
  std::shared_ptr<const objects::ReplicaSet> replicaSet(const std::string& namespace_,
                                                        const std::string& name) const override;

 private:
  const ObjectView& view_;
};

Workload resolveWorkload(const objects::Pod& pod, const WorkloadLookup& lookup);
// Through the view: resolveWorkload(pod, ViewWorkloadLookup(view)).
Workload resolveWorkload(const objects::Pod& pod, const ObjectView& view);

}  // namespace quasar::daemon
