#pragma once
// The difference between what a reflector delivered to its sink and a fresh list, so a relist
// (after 410 Gone) reaches the sink as events: nothing lost, nothing applied twice. Pure code.

#include <string>
#include <unordered_map>
#include <vector>

#include "nlohmann/json.hpp"

namespace quasar::kube {

// What the sink holds of one object: enough to tell a change and to name a deleted object.
struct KnownObject {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string resource_version;
  bool operator==(const KnownObject&) const = default;
};
// By objectKey() ("namespace/name" or "name").
using KnownObjects = std::unordered_map<std::string, KnownObject>;

KnownObject knownFrom(const nlohmann::json& object);

struct RelistDiff {
  std::vector<size_t> added;         // indexes into the list: objects the sink lacks
  std::vector<size_t> modified;      // indexes: same uid, another resourceVersion
  std::vector<std::string> deleted;  // keys (sorted) of known objects not in the list
};

// An object whose uid changed (deleted and made again under its name meanwhile) is deleted and
// added, as the watch would have told it. Objects without a name are ignored.
RelistDiff diffRelist(const KnownObjects& known, const std::vector<nlohmann::json>& listed);

// The object a DELETED event carries for an object that vanished between two lists: its
// kind, apiVersion and identity (name, namespace, uid, last resourceVersion), not its content.
nlohmann::json tombstone(const std::string& kind, const std::string& api_version,
                         const KnownObject& known);

}  // namespace quasar::kube
