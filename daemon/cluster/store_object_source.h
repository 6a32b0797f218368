#pragma once
// The object view's source when quasard runs without Kubernetes: the objects `quasarctl apply`
// writes into the cluster datastore (daemon/object_store.h), under
// k8s/<kind>/<namespace or _>/<name> as JSON.
//
// One list gives every kind at one revision (a replace() per kind, empty ones too); a watch
// resumes right after it. Both cover the whole keyspace, for the pod addresses each node
// publishes under podips/ (pod_addresses.h), which are laid over the stored Pods as
// status.podIPs (pod_address_overlay.h): a change of a pod's addresses is a MODIFIED Pod. A watch
// that cannot resume (its revision was compacted) or a failed list is reported with lost() and
// retried with backoff (250 ms doubling to 5 s): list and watch again, the view diffs the new list
// against what it holds.
//
// What the sink gets is the stored JSON with, from the datastore: metadata.resourceVersion = the
// key's modification revision (".<revision>" of the addresses' record appended for Pods that
// have one); metadata.uid, when the object has none, derived from the key's
// creation revision (a deleted and re-created object gets a new one); metadata.name and
// namespace as the key says. A value that is not JSON reaches the sink as an object with only
// its name, which the view refuses as invalid (so drops what it held). Keys of other shapes
// are ignored.
//
// Threading: sink calls come from the source's own thread (lists) and the store's watch
// thread (events), never both at once. stop() (or the destructor) ends both.

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/cluster/object_source.h"
#include "daemon/cluster/pod_address_overlay.h"
#include "daemon/store/store.h"

namespace quasar::daemon {

class StoreObjectSource final : public ObjectSource {
 public:
  // `store` must outlive the source.
  explicit StoreObjectSource(Store& store) : store_(store) {}
  ~StoreObjectSource() override { stop(); }

  std::vector<objects::Kind> kinds() const override;
  absl::Status start(ObjectSink& sink) override;
  void stop() override;
  // A get of the object's key; the store's own timeouts bound it, not `deadline`.
  absl::StatusOr<std::optional<nlohmann::json>> fetch(objects::Kind kind,
                                                      const std::string& namespace_,
                                                      const std::string& name,
                                                      std::chrono::milliseconds deadline) override;
  std::string describe() const override { return "datastore " + store_.describe(); }

 private:
  void run();
  // Lists and watches; the error of a failed list or watch.
  absl::Status load();
  void onWatch(const std::vector<WatchEvent>& events, const absl::Status& error);

  Store& store_;
  ObjectSink* sink_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;  // reload_ or stopping_ changed
  bool reload_ = false;         // the watch ended: list and watch afresh
  absl::Status watch_error_;    // why
  bool stopping_ = false;
  std::unique_ptr<Watch> watch_;
  std::thread worker_;
  // What the sink calls are made from: taken by the list (worker thread) and the watch (store's
  // thread), which never run at once, so sink calls keep their order.
  std::mutex state_mu_;
  std::map<std::pair<std::string, std::string>, KeyValue> pods_;  // stored Pods by ns/name
  PodAddressOverlay ips_;
};

}  // namespace quasar::daemon
