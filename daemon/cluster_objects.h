#pragma once
// quasard's Kubernetes objects, wired: the source the config names (the API server with a
// `kubernetes` section, else the datastore that `quasarctl apply` writes), the object view over
// it, the ADD path's pod lookup, and with the API source this node's own annotations. Logs
// `event=object-view-synced` once every kind is listed and, at debug, one `event=view-event`
// line per change after that.
//
// Threading: the accessors are thread-safe once start() returned; stop() ends every thread.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "conf/daemon_config.h"
#include "daemon/api/view_pod_lookup.h"
#include "daemon/cluster/local_pods.h"
#include "daemon/cluster/object_store.h"
#include "daemon/cluster/object_view.h"
#include "daemon/kube/api_client.h"
#include "daemon/kube/node_annotator.h"
#include "daemon/kube/reflector.h"
#include "daemon/store/store.h"

namespace quasar::daemon {

class ClusterObjects {
 public:
  // `datastore` must outlive this. `observer` (may be null) sees the API source's watches.
  static absl::StatusOr<std::unique_ptr<ClusterObjects>> create(const conf::DaemonConfig& cfg,
                                                                Store& datastore,
                                                                kube::ReflectorObserver* observer);
  ~ClusterObjects() { stop(); }

  absl::Status start();
  void stop();

  bool fromKubernetes() const { return api_.has_value(); }
  // Every kind has been listed into the view (readiness).
  bool synced() const { return synced_.load(); }
  std::string describe() const { return source_->describe(); }
  const ObjectView& view() const { return *view_; }
  ObjectView& view() { return *view_; }
  PodLookup& pods() { return *pods_; }
  // This node's pods from their own watch (the API source with a node name); null otherwise.
  const LocalPods* localPods() const { return local_pods_; }
  // Where `quasarctl apply` writes: null with the API source (kubectl is the writer then).
  ObjectStore* store() { return store_.get(); }

  // ipam: kubernetes. Waits until the view has this node's Node with spec.podCIDRs (set by
  // kube-controller-manager) and returns its IPv4 ones; Cancelled when `cancelled` says so.
  absl::StatusOr<std::vector<conf::IpPrefix>> waitForPodCidrs(
      const std::string& node, const std::function<bool()>& cancelled);
  // With the API source: keeps `annotations` on this node's Node object. No-op otherwise.
  void annotateNode(const std::string& node, kube::NodeAnnotator::Annotations annotations);

 private:
  ClusterObjects() = default;
  void logWhenSynced();

  std::optional<kube::ApiClient> api_;
  std::unique_ptr<ObjectSource> source_;
  LocalPods* local_pods_ = nullptr;  // owned by source_
  std::unique_ptr<ObjectView> view_;
  std::unique_ptr<ViewPodLookup> pods_;
  std::unique_ptr<ObjectStore> store_;
  std::unique_ptr<kube::NodeAnnotator> annotator_;
  ObjectView::Subscription events_;
  ObjectView::Subscription node_events_;
  std::atomic<bool> synced_{false};
  std::atomic<bool> stopping_{false};
  std::chrono::steady_clock::time_point started_;
  std::thread sync_logger_;
};

}  // namespace quasar::daemon
