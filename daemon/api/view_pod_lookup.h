#pragma once
// PodLookup over quasard's object view: the view first; a pod the view does not have yet (the
// kubelet calls ADD right after the pod was scheduled, the watch may not have brought it) is
// asked of the view's source directly, with the caller's deadline. Both sources answer the
// same way, so this cannot tell the Kubernetes API from the datastore either.
// Threading: thread-safe (the view and the source's fetch are).

#include "daemon/api/pod_lookup.h"
#include "daemon/cluster/object_source.h"
#include "daemon/cluster/object_view.h"

namespace quasar::daemon {

class ViewPodLookup final : public PodLookup {
 public:
  ViewPodLookup(const ObjectView& view, ObjectSource& source) : view_(view), source_(source) {}
  absl::StatusOr<std::optional<PodFacts>> find(const std::string& namespace_,
                                               const std::string& name, const std::string& uid,
                                               std::chrono::milliseconds deadline) override;

 private:
  const ObjectView& view_;
  ObjectSource& source_;
};

}  // namespace quasar::daemon
