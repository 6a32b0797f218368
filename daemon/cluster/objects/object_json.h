#pragma once
// Typed objects back to Kubernetes JSON (what `quasarctl get` shows of the object view, which
// keeps no raw JSON). Every field the typed structs hold is rendered in the API's shape and field
// names; everything else the API server would show (spec.containers[].image, status.conditions,
// managedFields, ...) is not held and so not shown.
//
// Empty optional fields are left out as the API server leaves them out (no empty labels map, no
// null, no empty list): metadata.uid/resourceVersion/creationTimestamp when empty, labels,
// annotations, ownerReferences (controller only when true) when empty, a selector's matchLabels
// and matchExpressions when empty. Selectors whose absence means something else than {} are
// rendered as {} when present but empty (NetworkPolicy spec.podSelector, a peer's podSelector,
// namespaceSelector, nodeSelector). Defaults the API server writes are written: a port's protocol,
// a NetworkPolicy's policyTypes. Node spec.podCIDR and Pod status.podIP repeat the first entry of
// their lists, as the API server keeps them.
//
// For every object o a parser accepted: parseObject(toJson(o)) == o.
//
// Pure functions; thread-safe. They do not throw (only std::bad_alloc could leave them).
// json::dump() throws on invalid UTF-8, which a parsed object cannot hold but a hand-built one
// can: toJsonText() dumps without throwing.

#include <string>

#include "daemon/cluster/objects/object.h"
#include "nlohmann/json.hpp"

namespace quasar::objects {

nlohmann::json toJson(const Object& object);
nlohmann::json toJson(const Node& node);
nlohmann::json toJson(const Namespace& ns);
nlohmann::json toJson(const Pod& pod);
nlohmann::json toJson(const NetworkPolicy& policy);        // networking.k8s.io/v1
nlohmann::json toJson(const QuasarNetworkPolicy& policy);  // quasar.io/v1
nlohmann::json toJson(const FloatingIPPool& pool);
// apps/v1: spec.replicas always written (the API server defaults it).
nlohmann::json toJson(const StatefulSet& set);
nlohmann::json toJson(const Deployment& deployment);
nlohmann::json toJson(const ReplicaSet& set);

// The pieces, for callers that render parts of an object (e.g. quasarctl describe).
nlohmann::json toJson(const ObjectMeta& meta);
nlohmann::json toJson(const LabelSelector& selector);  // {} when empty

// toJson(object).dump(indent) with invalid UTF-8 replaced by U+FFFD; never throws.
std::string toJsonText(const Object& object, int indent = -1);

}  // namespace quasar::objects
