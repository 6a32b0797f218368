#pragma once
// What quasarctl apply and delete send to quasard: one object, a JSON array of them, or a
// "kind: List" (lists nest, as kubectl flattens them, to a bounded depth). Every object is
// validated as its typed parser does (object.h), and kept as JSON for the datastore.
// Pure functions; no I/O.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/cluster/objects/kind.h"
#include "nlohmann/json.hpp"

namespace quasar::objects {

struct ManifestObject {
  ObjectKey key;
  nlohmann::json body;  // the whole object, with metadata.namespace filled in when defaulted

  std::string ref() const { return key.ref(); }            // "Pod default/web"
  std::string storeKey() const { return key.storeKey(); }  // k8s/pod/default/web
};

// One object. InvalidArgument naming the object and the field.
absl::StatusOr<ManifestObject> parseManifestObject(const nlohmann::json& j);
// Lists (kind: List, or a JSON array) expand to their items; anything else is one object.
absl::StatusOr<std::vector<ManifestObject>> parseManifest(const nlohmann::json& j);

}  // namespace quasar::objects
