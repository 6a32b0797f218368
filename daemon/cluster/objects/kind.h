#pragma once
// The kinds of objects quasar reads, and the key that names one object.
//
// Two kinds share the JSON kind "NetworkPolicy": Kubernetes' (networking.k8s.io/v1) and
// quasar's (quasar.io/v1, with node selectors). Inside quasar they are told apart by name:
// "NetworkPolicy" and "NetworkPolicy.quasar.io" (kubectl's spelling of a resource's group).
// Pure values and functions; thread-safe.

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace quasar::objects {

// The order is the order of Object's variant (object.h).
enum class Kind : uint8_t {
  kNode,
  kNamespace,
  kPod,
  kNetworkPolicy,        // networking.k8s.io/v1
  kQuasarNetworkPolicy,  // quasar.io/v1
  kFloatingIPPool,       // quasar.io/v1, cluster-scoped
  kStatefulSet,          // apps/v1
  kDeployment,           // apps/v1
  kReplicaSet,           // apps/v1
};
inline constexpr std::array<Kind, 9> kAllKinds = {
    Kind::kNode,          Kind::kNamespace,           Kind::kPod,
    Kind::kNetworkPolicy, Kind::kQuasarNetworkPolicy, Kind::kFloatingIPPool,
    Kind::kStatefulSet,   Kind::kDeployment,          Kind::kReplicaSet};

// "Node", "Namespace", "Pod", "NetworkPolicy", "NetworkPolicy.quasar.io", "FloatingIPPool",
// "StatefulSet", "Deployment", "ReplicaSet".
std::string_view kindName(Kind kind);
// The JSON fields: apiVersion ("v1", "networking.k8s.io/v1", "quasar.io/v1", "apps/v1") and
// kind.
std::string_view apiVersionOf(Kind kind);
std::string_view jsonKindOf(Kind kind);
bool isNamespaced(Kind kind);
// The kind of an object's apiVersion and kind fields; nullopt for anything else.
std::optional<Kind> kindOf(std::string_view api_version, std::string_view json_kind);
// The kind as a user types it (quasarctl get): pods, pod, po, Pod, netpol,
// networkpolicies.quasar.io, floatingippools, sts, deploy, rs, deployments.apps, ...; nullopt
// when unknown.
std::optional<Kind> parseKindArg(std::string_view typed);

// One object's identity. namespace_ is empty for cluster-scoped kinds.
struct ObjectKey {
  Kind kind = Kind::kNode;
  std::string namespace_;
  std::string name;

  // "Pod default/web", "Node gpu-1": how errors and logs name the object.
  std::string ref() const;
  // The datastore key (relative): k8s/<kind lowercased>/<namespace or _>/<name>, e.g.
  // k8s/pod/default/web, k8s/networkpolicy.quasar.io/ml/gpu-only, k8s/node/_/gpu-1.
  std::string storeKey() const;
  auto operator<=>(const ObjectKey&) const = default;
};

inline constexpr char kStorePrefix[] = "k8s/";
// The datastore prefix of every object of `kind` ("k8s/pod/"), or of those in one namespace
// ("k8s/pod/shop/"); cluster-scoped kinds ignore `namespace_` ("k8s/node/_/").
std::string storePrefix(Kind kind, const std::string& namespace_ = "");
// The inverse of storeKey(); nullopt for a key of another shape or kind.
std::optional<ObjectKey> parseStoreKey(std::string_view key);

}  // namespace quasar::objects
