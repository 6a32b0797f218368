#pragma once
// PodLookup over quasard's object view: this node's pods first when there is an index of them
// (LocalPods, fed by the Kubernetes API source's watch narrowed to the node), then the view; a
// pod neither has yet (the kubelet calls ADD right after the pod was scheduled, the watches may
// not have brought it) is asked of the view's source directly, with the caller's deadline. Both
// sources answer the same way, so this cannot tell the Kubernetes API from the datastore either.
// Threading: thread-safe (the index, the view and the source's fetch are).

#include "daemon/api/pod_lookup.h"
#include "daemon/cluster/local_pods.h"
#include "daemon/cluster/object_source.h"
#include "daemon/cluster/object_view.h"

namespace quasar::daemon {

class ViewPodLookup final : public PodLookup {
 public:
  // `local` (may be null: no such index) must outlive this, as `view` and `source` must.
  ViewPodLookup(const ObjectView& view, ObjectSource& source, const LocalPods* local = nullptr)
      : view_(view), source_(source), local_(local) {}
  absl::StatusOr<std::optional<PodFacts>> find(const std::string& namespace_,
                                               const std::string& name, const std::string& uid,
                                               std::chrono::milliseconds deadline) override;

 private:
  const ObjectView& view_;
  ObjectSource& source_;
  const LocalPods* local_;
};

}  // namespace quasar::daemon
