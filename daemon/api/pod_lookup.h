#pragma once
// What the API service asks about a pod at ADD: its uid, labels and annotations (floating IPs
// and release policies are requested by annotations). quasard answers from the watch of this
// node's pods (with the Kubernetes API source), else from its object view, and when the pod is
// newer than both (the kubelet calls ADD right after scheduling) by asking the object source
// directly, with a short deadline. Implemented in quasard's wiring.
// Threading: implementations are thread-safe.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/cluster/objects/pod.h"

namespace quasar::daemon {

struct PodFacts {
  std::string uid;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  // "local": the watch of this node's pods had it; "view": quasard's object view had it;
  // "direct": asked of the source (newer than both).
  std::string source;
  // The pod itself: its owner references find its workload also when the view has not got it.
  std::shared_ptr<const objects::Pod> object;
};

class PodLookup {
 public:
  virtual ~PodLookup() = default;
  // nullopt: no such pod (or not the pod with `uid`, when given). An error: the view does not
  // have it and the source could not be asked in time (the caller decides what that means).
  virtual absl::StatusOr<std::optional<PodFacts>> find(const std::string& namespace_,
                                                       const std::string& name,
                                                       const std::string& uid,
                                                       std::chrono::milliseconds deadline) = 0;
};

}  // namespace quasar::daemon
