#pragma once
// Kubernetes objects quasar keeps (Node, Namespace, Pod, NetworkPolicy), validated the way the
// API server would: a bad object is refused with a message that names the field, e.g.
//   Pod default/web: spec.containers[0].ports[1].containerPort: must be in [1, 65535]
// Pure functions over JSON: no I/O. quasarctl converts YAML to JSON first.

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace quasar::conf {

struct K8sObject {
  std::string kind;        // Node, Namespace, Pod, NetworkPolicy
  std::string namespace_;  // empty for cluster-scoped kinds
  std::string name;
  nlohmann::json body;  // the whole object, with metadata.namespace filled in

  // The object's datastore key (relative): k8s/<kind>/<namespace or _>/<name>.
  std::string key() const;
  std::string ref() const;  // "Pod default/web", "Node gpu-1"
};

// Validates one object. InvalidArgument naming the object and the field.
absl::StatusOr<K8sObject> parseK8sObject(const nlohmann::json& j);
// "kind: List" (or a JSON array) expands to its items; anything else is one object.
absl::StatusOr<std::vector<K8sObject>> parseK8sObjects(const nlohmann::json& j);
// Normalises a kind as typed on the command line: pods, pod, po, Pod -> Pod; empty if unknown.
std::string canonicalKind(const std::string& typed);

}  // namespace quasar::conf
