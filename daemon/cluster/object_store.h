#pragma once
// Kubernetes objects in the cluster datastore (k8s/<kind>/<namespace or _>/<name>, JSON).
// Thread-safe (the Store is).

#include <string>
#include <vector>

#include "daemon/cluster/objects/manifest.h"
#include "daemon/store/store.h"

namespace quasar::daemon {

class ObjectStore {
 public:
  explicit ObjectStore(Store& store) : store_(store) {}
  // Validates every object, then writes them, kMaxTxnOps to a transaction (as kubectl apply
  // writes each object on its own, a store failure part-way leaves the earlier ones written;
  // applying again is idempotent). Returns one line per object ("Pod default/web
  // created|configured|unchanged"). On any invalid object nothing is written and the error
  // names the object and field.
  absl::StatusOr<std::vector<std::string>> apply(const std::vector<std::string>& objects_json);
  // Deletes all the named objects, kMaxTxnOps / 2 to a transaction ("... deleted" / "... not
  // found").
  absl::StatusOr<std::vector<std::string>> remove(const std::vector<std::string>& objects_json);
  absl::StatusOr<std::vector<std::string>> get(const std::string& kind,
                                               const std::string& namespace_,
                                               const std::string& name);

 private:
  absl::StatusOr<std::vector<objects::ManifestObject>> parseAll(
      const std::vector<std::string>& texts);
  Store& store_;
};

}  // namespace quasar::daemon
