#include "daemon/cluster/objects/object.h"

#include "absl/strings/str_cat.h"
#include "daemon/cluster/objects/meta_parse.h"

namespace quasar::objects {

const ObjectMeta& Object::metadata() const {
  return std::visit([](const auto& o) -> const ObjectMeta& { return o.metadata; }, value_);
}

namespace {

template <class T>
absl::StatusOr<Object> wrap(absl::StatusOr<T> parsed) {
  if (!parsed.ok()) return parsed.status();
  return Object(*std::move(parsed));
}

}  // namespace

absl::StatusOr<Object> parseObject(Kind kind, const nlohmann::json& j) {
  switch (kind) {
    case Kind::kNode:
      return wrap(parseNode(j));
    case Kind::kNamespace:
      return wrap(parseNamespace(j));
    case Kind::kPod:
      return wrap(parsePod(j));
    case Kind::kNetworkPolicy:
      return wrap(parseNetworkPolicy(j));
    case Kind::kQuasarNetworkPolicy:
      return wrap(parseQuasarNetworkPolicy(j));
    case Kind::kFloatingIPPool:
      return wrap(parseFloatingIPPool(j));
    case Kind::kStatefulSet:
      return wrap(parseStatefulSet(j));
    case Kind::kDeployment:
      return wrap(parseDeployment(j));
    case Kind::kReplicaSet:
      return wrap(parseReplicaSet(j));
  }
  return absl::InvalidArgumentError("unknown kind");
}

absl::StatusOr<Object> parseObject(const nlohmann::json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("an object must be a mapping");
  const nlohmann::json* api = internal::member(j, "apiVersion");
  const nlohmann::json* kind = internal::member(j, "kind");
  const std::string api_text = api != nullptr && api->is_string() ? api->get<std::string>() : "";
  const std::string kind_text =
      kind != nullptr && kind->is_string() ? kind->get<std::string>() : "";
  if (auto k = kindOf(api_text, kind_text)) return parseObject(*k, j);
  // Name the field that is wrong: a known kind with another apiVersion, or an unknown kind.
  internal::Reader r(internal::refOf(j, "object"));
  std::string versions;
  for (Kind k : kAllKinds) {
    if (jsonKindOf(k) != kind_text) continue;
    versions = versions.empty() ? std::string(apiVersionOf(k))
                                : absl::StrCat(versions, " or ", std::string(apiVersionOf(k)));
  }
  if (!versions.empty()) {
    r.fail("apiVersion", "must be " + versions);
  } else {
    r.fail("kind",
           "must be Node, Namespace, Pod, NetworkPolicy, FloatingIPPool, StatefulSet, Deployment "
           "or ReplicaSet");
  }
  return r.status();
}

std::optional<ObjectKey> keyOf(Kind kind, const nlohmann::json& j) {
  const nlohmann::json* meta = internal::member(j, "metadata");
  const nlohmann::json* name = meta != nullptr ? internal::member(*meta, "name") : nullptr;
  if (name == nullptr || !name->is_string() || name->get<std::string>().empty()) {
    return std::nullopt;
  }
  ObjectKey key{kind, "", name->get<std::string>()};
  if (isNamespaced(kind)) {
    const nlohmann::json* ns = internal::member(*meta, "namespace");
    key.namespace_ = ns != nullptr && ns->is_string() && !ns->get<std::string>().empty()
                         ? ns->get<std::string>()
                         : "default";
  }
  return key;
}

}  // namespace quasar::objects
