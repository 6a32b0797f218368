#pragma once
// The Kubernetes API server as the object view's source (daemon/cluster/object_source.h): one
// reflector per kind (Nodes, Namespaces, all Pods, NetworkPolicies of both groups,
// FloatingIPPools), each listing then watching; their sink calls become the view's. quasar's
// own kinds are CRDs (conf/k8s/quasar.yaml): until they are installed their reflectors retry
// and the view is not synced (readyz says which kind).
//
// Threading: thread-safe; one thread per reflector, all ended by stop(). fetch() runs on the
// caller's thread.

#include <memory>
#include <vector>

#include "daemon/cluster/object_source.h"
#include "daemon/kube/api_client.h"
#include "daemon/kube/reflector.h"

namespace quasar::kube {

class KubeObjectSource final : public daemon::ObjectSource {
 public:
  // `observer` (may be null) also sees every reflector's state, lists and errors (metrics).
  KubeObjectSource(ApiClient api, std::vector<objects::Kind> kinds,
                   ReflectorObserver* observer = nullptr);
  ~KubeObjectSource() override;

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
  std::unique_ptr<Adapter> adapter_;
  std::vector<std::unique_ptr<Reflector>> reflectors_;
};

}  // namespace quasar::kube
