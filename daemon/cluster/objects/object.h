#pragma once
// Any one object of the kinds quasar reads, and the parser that picks the kind from the JSON's
// apiVersion and kind. Immutable once built; thread-safe to share (the object view hands out
// std::shared_ptr<const Object>).

#include <optional>
#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "daemon/cluster/objects/apps.h"
#include "daemon/cluster/objects/floating_ip_pool.h"
#include "daemon/cluster/objects/kind.h"
#include "daemon/cluster/objects/network_policy.h"
#include "daemon/cluster/objects/node.h"
#include "daemon/cluster/objects/pod.h"
#include "nlohmann/json.hpp"

namespace quasar::objects {

// The kind of each object type: kindOf<Pod>() == Kind::kPod.
template <class T>
constexpr Kind kindOf();
template <>
constexpr Kind kindOf<Node>() {
  return Kind::kNode;
}
template <>
constexpr Kind kindOf<Namespace>() {
  return Kind::kNamespace;
}
template <>
constexpr Kind kindOf<Pod>() {
  return Kind::kPod;
}
template <>
constexpr Kind kindOf<NetworkPolicy>() {
  return Kind::kNetworkPolicy;
}
template <>
constexpr Kind kindOf<QuasarNetworkPolicy>() {
  return Kind::kQuasarNetworkPolicy;
}
template <>
constexpr Kind kindOf<FloatingIPPool>() {
  return Kind::kFloatingIPPool;
}
template <>
constexpr Kind kindOf<StatefulSet>() {
  return Kind::kStatefulSet;
}
template <>
constexpr Kind kindOf<Deployment>() {
  return Kind::kDeployment;
}
template <>
constexpr Kind kindOf<ReplicaSet>() {
  return Kind::kReplicaSet;
}

class Object {
 public:
  // In the order of Kind.
  using Variant = std::variant<Node, Namespace, Pod, NetworkPolicy, QuasarNetworkPolicy,
                               FloatingIPPool, StatefulSet, Deployment, ReplicaSet>;

  template <class T>
  Object(T value) : value_(std::move(value)) {}  // NOLINT: any kind converts implicitly

  Kind kind() const { return static_cast<Kind>(value_.index()); }
  const ObjectMeta& metadata() const;
  ObjectKey key() const { return {kind(), metadata().namespace_, metadata().name}; }
  std::string ref() const { return key().ref(); }  // "Pod default/web"
  // The object as T, or null when it is another kind.
  template <class T>
  const T* as() const {
    return std::get_if<T>(&value_);
  }
  const Variant& variant() const { return value_; }
  bool operator==(const Object&) const = default;

 private:
  Variant value_;
};

// Any kind (by apiVersion and kind). InvalidArgument naming the object and the field; never
// throws.
absl::StatusOr<Object> parseObject(const nlohmann::json& j);
// Only `kind`: an object of another kind is refused naming apiVersion or kind.
absl::StatusOr<Object> parseObject(Kind kind, const nlohmann::json& j);

// The key `j` names (metadata.name; metadata.namespace, "default" when absent, for namespaced
// kinds) without validating anything else: for a deletion, or an object that failed to parse.
// nullopt when it has no name.
std::optional<ObjectKey> keyOf(Kind kind, const nlohmann::json& j);

}  // namespace quasar::objects
