#pragma once
// Internal to StoreObjectSource: the pod addresses nodes publish in the datastore
// (pod_addresses.h, podips/<node>/<namespace>/<name>) laid over the Pods `quasarctl apply`
// wrote, so that with the datastore source, too, Pod.status.podIPs says where every pod is.
//
// A pod's addresses come from the record of the node in its spec.nodeName, else from the most
// recently written record (a pod that moved leaves a record behind until its old node cleans
// up). A record whose uid differs from a uid the pod object states belongs to another pod of
// the same name and is ignored. Thread-compatible.

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "daemon/cluster/pod_addresses.h"
#include "nlohmann/json.hpp"

namespace quasar::daemon {

class PodAddressOverlay {
 public:
  void put(PodAddresses record, int64_t revision);
  // The record of `node` for the pod is gone.
  void erase(const std::string& node, const std::string& namespace_, const std::string& name);
  void clear() { records_.clear(); }
  // Sets status.podIPs and status.podIP of `pod` (and spec.nodeName when it has none) from the
  // pod's record; `explicit_uid` is the uid the stored object states ("" when none). Returns
  // the record's revision, 0 when no record applies (the pod is left as it is).
  int64_t apply(nlohmann::json& pod, const std::string& namespace_, const std::string& name,
                const std::string& explicit_uid) const;

 private:
  struct Record {
    PodAddresses addresses;
    int64_t revision = 0;
  };
  // (namespace, name) -> node -> record
  std::map<std::pair<std::string, std::string>, std::map<std::string, Record>> records_;
};

}  // namespace quasar::daemon
