#include "daemon/cluster/objects/kind.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace quasar::objects {
namespace {

struct KindInfo {
  std::string_view name;
  std::string_view api_version;
  std::string_view json_kind;
  std::string_view key_segment;  // in datastore keys
  bool namespaced;
};

const KindInfo& info(Kind kind) {
  static constexpr KindInfo kInfo[] = {
      {"Node", "v1", "Node", "node", false},
      {"Namespace", "v1", "Namespace", "namespace", false},
      {"Pod", "v1", "Pod", "pod", true},
      {"NetworkPolicy", "networking.k8s.io/v1", "NetworkPolicy", "networkpolicy", true},
      {"NetworkPolicy.quasar.io", "quasar.io/v1", "NetworkPolicy", "networkpolicy.quasar.io", true},
      {"FloatingIPPool", "quasar.io/v1", "FloatingIPPool", "floatingippool", false},
      {"StatefulSet", "apps/v1", "StatefulSet", "statefulset", true},
      {"Deployment", "apps/v1", "Deployment", "deployment", true},
      {"ReplicaSet", "apps/v1", "ReplicaSet", "replicaset", true},
  };
  static_assert(std::size(kInfo) == kAllKinds.size());
  return kInfo[static_cast<size_t>(kind)];
}

}  // namespace

std::string_view kindName(Kind kind) { return info(kind).name; }
std::string_view apiVersionOf(Kind kind) { return info(kind).api_version; }
std::string_view jsonKindOf(Kind kind) { return info(kind).json_kind; }
bool isNamespaced(Kind kind) { return info(kind).namespaced; }

std::optional<Kind> kindOf(std::string_view api_version, std::string_view json_kind) {
  for (Kind k : kAllKinds) {
    if (info(k).api_version == api_version && info(k).json_kind == json_kind) return k;
  }
  return std::nullopt;
}

std::optional<Kind> parseKindArg(std::string_view typed) {
  const std::string t = absl::AsciiStrToLower(absl::string_view(typed.data(), typed.size()));
  if (t == "node" || t == "nodes" || t == "no") return Kind::kNode;
  if (t == "namespace" || t == "namespaces" || t == "ns") return Kind::kNamespace;
  if (t == "pod" || t == "pods" || t == "po") return Kind::kPod;
  if (t == "networkpolicy" || t == "networkpolicies" || t == "netpol" ||
      t == "networkpolicy.networking.k8s.io" || t == "networkpolicies.networking.k8s.io") {
    return Kind::kNetworkPolicy;
  }
  if (t == "networkpolicy.quasar.io" || t == "networkpolicies.quasar.io") {
    return Kind::kQuasarNetworkPolicy;
  }
  if (t == "floatingippool" || t == "floatingippools" || t == "floatingippool.quasar.io" ||
      t == "floatingippools.quasar.io") {
    return Kind::kFloatingIPPool;
  }
  if (t == "statefulset" || t == "statefulsets" || t == "sts" || t == "statefulset.apps" ||
      t == "statefulsets.apps") {
    return Kind::kStatefulSet;
  }
  if (t == "deployment" || t == "deployments" || t == "deploy" || t == "deployment.apps" ||
      t == "deployments.apps") {
    return Kind::kDeployment;
  }
  if (t == "replicaset" || t == "replicasets" || t == "rs" || t == "replicaset.apps" ||
      t == "replicasets.apps") {
    return Kind::kReplicaSet;
  }
  return std::nullopt;
}

std::string ObjectKey::ref() const {
  return namespace_.empty() ? absl::StrCat(std::string(kindName(kind)), " ", name)
                            : absl::StrCat(std::string(kindName(kind)), " ", namespace_, "/", name);
}

std::string ObjectKey::storeKey() const {
  return absl::StrCat(kStorePrefix, std::string(info(kind).key_segment), "/",
                      namespace_.empty() ? "_" : namespace_, "/", name);
}

std::string storePrefix(Kind kind, const std::string& namespace_) {
  const std::string base = absl::StrCat(kStorePrefix, std::string(info(kind).key_segment), "/");
  if (!info(kind).namespaced) return base + "_/";
  return namespace_.empty() ? base : absl::StrCat(base, namespace_, "/");
}

std::optional<ObjectKey> parseStoreKey(std::string_view key) {
  const std::vector<absl::string_view> parts =
      absl::StrSplit(absl::string_view(key.data(), key.size()), '/');
  if (parts.size() != 4 || absl::StrCat(parts[0], "/") != kStorePrefix || parts[3].empty()) {
    return std::nullopt;
  }
  for (Kind k : kAllKinds) {
    if (info(k).key_segment != std::string_view(parts[1].data(), parts[1].size())) continue;
    ObjectKey out{k, std::string(parts[2]), std::string(parts[3])};
    if (!info(k).namespaced) {
      if (out.namespace_ != "_") return std::nullopt;
      out.namespace_.clear();
    }
    return out;
  }
  return std::nullopt;
}

}  // namespace quasar::objects
