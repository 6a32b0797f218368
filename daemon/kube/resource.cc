#include "daemon/kube/resource.h"

#include "absl/strings/str_cat.h"

namespace quasar::kube {

const Resource& nodeResource() {
  static const Resource r{"Node", "", "v1", "nodes", false};
  return r;
}
const Resource& namespaceResource() {
  static const Resource r{"Namespace", "", "v1", "namespaces", false};
  return r;
}
const Resource& podResource() {
  static const Resource r{"Pod", "", "v1", "pods", true};
  return r;
}
const Resource& networkPolicyResource() {
  static const Resource r{"NetworkPolicy", "networking.k8s.io", "v1", "networkpolicies", true};
  return r;
}
const Resource& statefulSetResource() {
  static const Resource r{"StatefulSet", "apps", "v1", "statefulsets", true};
  return r;
}
const Resource& deploymentResource() {
  static const Resource r{"Deployment", "apps", "v1", "deployments", true};
  return r;
}
const Resource& replicaSetResource() {
  static const Resource r{"ReplicaSet", "apps", "v1", "replicasets", true};
  return r;
}
const Resource& floatingIpPoolResource() {
  static const Resource r{"FloatingIPPool", "quasar.io", "v1", "floatingippools", false};
  return r;
}
const Resource& quasarNetworkPolicyResource() {
  static const Resource r{"NetworkPolicy", "quasar.io", "v1", "networkpolicies", true};
  return r;
}

std::string escapeQueryValue(const std::string& value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string collectionPath(const Resource& r, const std::string& namespace_name) {
  std::string out =
      r.group.empty() ? "/api/" + r.version : absl::StrCat("/apis/", r.group, "/", r.version);
  if (r.namespaced && !namespace_name.empty()) {
    absl::StrAppend(&out, "/namespaces/", escapeQueryValue(namespace_name));
  }
  absl::StrAppend(&out, "/", r.plural);
  return out;
}

std::string objectPath(const Resource& r, const std::string& namespace_name,
                       const std::string& name) {
  return absl::StrCat(collectionPath(r, namespace_name), "/", escapeQueryValue(name));
}

namespace {

void addParam(std::string& query, const char* key, const std::string& value) {
  if (value.empty()) return;
  absl::StrAppend(&query, query.empty() ? "?" : "&", key, "=", escapeQueryValue(value));
}

}  // namespace

std::string listPath(const Resource& r, const ListOptions& o) {
  std::string q;
  addParam(q, "labelSelector", o.label_selector);
  addParam(q, "fieldSelector", o.field_selector);
  if (o.limit > 0) addParam(q, "limit", std::to_string(o.limit));
  addParam(q, "continue", o.continue_token);
  // With a continue token the server takes the version from the token.
  if (o.continue_token.empty()) addParam(q, "resourceVersion", o.resource_version);
  return collectionPath(r, o.namespace_name) + q;
}

std::string watchPath(const Resource& r, const WatchOptions& o) {
  std::string q = "?watch=true";
  if (o.allow_bookmarks) q += "&allowWatchBookmarks=true";
  addParam(q, "labelSelector", o.label_selector);
  addParam(q, "fieldSelector", o.field_selector);
  addParam(q, "resourceVersion", o.resource_version);
  if (o.timeout_seconds > 0) addParam(q, "timeoutSeconds", std::to_string(o.timeout_seconds));
  return collectionPath(r, o.namespace_name) + q;
}

}  // namespace quasar::kube
