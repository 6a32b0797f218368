#pragma once
// The Kubernetes API server as the object view's source (daemon/cluster/object_source.h): one
// reflector per kind (Nodes, Namespaces, all Pods, NetworkPolicies of both groups,
// FloatingIPPools), each listing then watching; their sink calls become the view's. quasar's
// own kinds are CRDs (conf/k8s/quasar.yaml): until they are installed their reflectors retry
// and the view is not synced (readyz says which kind).
//
// Given a node name, one more reflector watches this node's pods
// (fieldSelector=spec.nodeName=<node>, named kLocalPodsWatch for the observer) into a LocalPods
// index (daemon/cluster/local_pods.h) that the ADD path reads first: a short watch that brings
// a newly scheduled pod sooner than the watch of every pod. The view's content is unchanged
// (every pod, from the other pod reflector); the index holds only the node's pods.
//
// Threading: thread-safe; one thread per reflector, all ended by stop(). fetch() runs on the
// caller's thread.

#include <memory>
#include <vector>

#include "daemon/cluster/local_pods.h"
#include "daemon/cluster/object_source.h"
#include "daemon/kube/api_client.h"
#include "daemon/kube/reflector.h"

namespace quasar::kube {

class KubeObjectSource final : public daemon::ObjectSource {
 public:
  // The observer's kind name for the watch of this node's pods.
  static constexpr char kLocalPodsWatch[] = "Pod/local";

  // `observer` (may be null) also sees every reflector's state, lists and errors (metrics).
  // `local_node` non-empty (and kinds with kPod): also watch that node's pods into localPods().
  KubeObjectSource(ApiClient api, std::vector<objects::Kind> kinds,
                   ReflectorObserver* observer = nullptr, std::string local_node = "");
  ~KubeObjectSource() override;

  // This node's pods (filled once started); null without a local node. Owned by the source,
  // valid as long as it is.
  const daemon::LocalPods* localPods() const { return local_pods_.get(); }
  daemon::LocalPods* localPods() { return local_pods_.get(); }

  std::vector<objects::Kind> kinds() const override { return kinds_; }
  absl::Status start(daemon::ObjectSink& sink) override;
  void stop() override;
  std::string describe() const override;
  absl::StatusOr<std::optional<nlohmann::json>> fetch(objects::Kind kind,
                                                      const std::string& namespace_,
                                                      const std::string& name,
                                                      std::chrono::milliseconds deadline) override;

  // The API resource of a kind (node -> /api/v1/nodes, ...).
  static Resource resourceOf(objects::Kind kind);

 private:
  class Adapter;

  ApiClient api_;
  const std::vector<objects::Kind> kinds_;
  ReflectorObserver* observer_;
  std::unique_ptr<daemon::LocalPods> local_pods_;
  std::unique_ptr<Adapter> adapter_;
  std::unique_ptr<Adapter> local_adapter_;
  std::vector<std::unique_ptr<Reflector>> reflectors_;
};

}  // namespace quasar::kube
