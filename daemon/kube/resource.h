#pragma once
// The API resources quasard reads and writes, and the request paths to them (pure functions:
// no I/O). Paths follow the Kubernetes API conventions: /api/v1/... for the core group,
// /apis/<group>/<version>/... otherwise, /namespaces/<ns>/ before the plural of a namespaced
// resource when a namespace is given.

#include <cstdint>
#include <string>

namespace quasar::kube {

struct Resource {
  std::string kind;     // "Pod"
  std::string group;    // "" for the core group
  std::string version;  // "v1"
  std::string plural;   // "pods"
  bool namespaced = false;

  // "v1", "networking.k8s.io/v1".
  std::string apiVersion() const { return group.empty() ? version : group + "/" + version; }
};

// Built-in kinds.
const Resource& nodeResource();
const Resource& namespaceResource();
const Resource& podResource();
const Resource& networkPolicyResource();  // networking.k8s.io/v1
// apps/v1, namespaced: the owners of pods (a pod's workload, daemon/cluster/workloads.h).
const Resource& statefulSetResource();
const Resource& deploymentResource();
const Resource& replicaSetResource();
// quasar's custom resources (group quasar.io, version v1).
const Resource& floatingIpPoolResource();       // FloatingIPPool, floatingippools, cluster-scoped
const Resource& quasarNetworkPolicyResource();  // NetworkPolicy, networkpolicies, namespaced

struct ListOptions {
  std::string namespace_name;  // "" = all namespaces (or a cluster-scoped resource)
  std::string label_selector;
  std::string field_selector;
  // "" = the newest state (a consistent read); "0" = any (maybe cached) state; else not older.
  std::string resource_version;
  int64_t limit = 500;  // a page; 0 = everything in one answer
  std::string continue_token;
};

struct WatchOptions {
  std::string namespace_name;
  std::string label_selector;
  std::string field_selector;
  // The events after this version (the version of a list or of the last event/bookmark).
  std::string resource_version;
  bool allow_bookmarks = true;
  // The server ends the stream cleanly after this long (0: the server's default).
  int timeout_seconds = 0;
};

// RFC 3986 percent-encoding of everything but the unreserved characters (A-Z a-z 0-9 - . _ ~).
std::string escapeQueryValue(const std::string& value);

// "/api/v1/namespaces/ns/pods", "/apis/quasar.io/v1/floatingippools"; `namespace_name` is
// ignored for a cluster-scoped resource.
std::string collectionPath(const Resource& r, const std::string& namespace_name);
// The path of one object (its name escaped).
std::string objectPath(const Resource& r, const std::string& namespace_name,
                       const std::string& name);
std::string listPath(const Resource& r, const ListOptions& o);
// ?watch=true&allowWatchBookmarks=true&resourceVersion=...&timeoutSeconds=...
std::string watchPath(const Resource& r, const WatchOptions& o);

}  // namespace quasar::kube
