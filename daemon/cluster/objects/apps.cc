#include "daemon/cluster/objects/apps.h"

#include <limits>

#include "daemon/cluster/objects/meta_parse.h"

namespace quasar::objects {

using internal::Reader;
using nlohmann::json;

namespace {

// The envelope and spec.replicas of any of the three kinds.
template <class T>
absl::StatusOr<T> parseScalable(const json& j, Kind kind) {
  Reader r(internal::refOf(j, kindName(kind)));
  T out;
  out.metadata = internal::readEnvelope(r, j, kind);
  if (const json* spec = r.object(j, "spec", ""); spec != nullptr && r.ok()) {
    const auto replicas = r.integer(*spec, "replicas", "spec");
    if (r.ok() && replicas && (*replicas < 0 || *replicas > std::numeric_limits<int32_t>::max())) {
      r.fail("spec.replicas", "must be in [0, 2147483647]");
    }
    if (r.ok() && replicas) out.replicas = static_cast<int32_t>(*replicas);
  }
  if (!r.ok()) return r.status();
  return out;
}

}  // namespace

absl::StatusOr<StatefulSet> parseStatefulSet(const json& j) {
  return parseScalable<StatefulSet>(j, Kind::kStatefulSet);
}

absl::StatusOr<Deployment> parseDeployment(const json& j) {
  return parseScalable<Deployment>(j, Kind::kDeployment);
}

absl::StatusOr<ReplicaSet> parseReplicaSet(const json& j) {
  return parseScalable<ReplicaSet>(j, Kind::kReplicaSet);
}

}  // namespace quasar::objects
