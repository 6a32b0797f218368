#include "daemon/kube/kube_object_source.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "daemon/kube/api_status.h"

namespace quasar::kube {

Resource KubeObjectSource::resourceOf(objects::Kind kind) {
  switch (kind) {
    case objects::Kind::kNode:
      return nodeResource();
    case objects::Kind::kNamespace:
      return namespaceResource();
    case objects::Kind::kPod:
      return podResource();
    case objects::Kind::kNetworkPolicy:
      return networkPolicyResource();
    case objects::Kind::kQuasarNetworkPolicy:
      return quasarNetworkPolicyResource();
    case objects::Kind::kFloatingIPPool:
      return floatingIpPoolResource();
    case objects::Kind::kStatefulSet:
      return statefulSetResource();
    case objects::Kind::kDeployment:
      return deploymentResource();
    case objects::Kind::kReplicaSet:
      return replicaSetResource();
  }
  return nodeResource();  // unreachable: every kind is listed above
}

// Turns the reflectors' sink and observer calls into a sink's (the view's, or the local pods
// index's). The reflector names its calls by the kind name it was given: the view's kind name,
// or kLocalPodsWatch for the local pods.
class KubeObjectSource::Adapter final : public ReflectorSink, public ReflectorObserver {
 public:
  // Every kind by its name.
  Adapter(daemon::ObjectSink& sink, ReflectorObserver* observer)
      : sink_(sink), observer_(observer), trim_(true) {
    for (objects::Kind k : objects::kAllKinds) names_.emplace(std::string(objects::kindName(k)), k);
  }
  // One kind under another name; its lists are small (no trim).
  Adapter(daemon::ObjectSink& sink, ReflectorObserver* observer, std::string name,
          objects::Kind kind)
      : sink_(sink), observer_(observer), trim_(false) {
    names_.emplace(std::move(name), kind);
  }

  void onSynced(const std::string& kind, std::vector<nlohmann::json> objects) override {
    if (auto k = kindOf(kind)) sink_.replace(*k, std::move(objects));
    objects.clear();
    objects.shrink_to_fit();
    // A list of every pod is a burst of JSON that is freed once the view has parsed it; glibc
    // keeps such memory in its arenas unless asked (half of quasard's RSS after syncing 10,000
    // pods, docs/benchmarks.md).
    if (trim_) malloc_trim(0);
  }
  void onEvent(const std::string& kind, EventType type, const nlohmann::json& object) override {
    auto k = kindOf(kind);
    if (!k) return;
    switch (type) {
      case EventType::kAdded:
        sink_.event(*k, daemon::ObjectEventType::kAdded, object);
        break;
      case EventType::kModified:
        sink_.event(*k, daemon::ObjectEventType::kModified, object);
        break;
      case EventType::kDeleted:
        sink_.event(*k, daemon::ObjectEventType::kDeleted, object);
        break;
      default:  // bookmarks and errors never reach a sink
        break;
    }
  }
  void onWatchState(const std::string& kind, WatchState state) override {
    if (observer_) observer_->onWatchState(kind, state);
  }
  void onList(const std::string& kind, bool relist, size_t objects) override {
    if (observer_) observer_->onList(kind, relist, objects);
  }
  void onError(const std::string& kind, const absl::Status& error) override {
    spdlog::warn("event=watch-failed kind={} error=\"{}\"", kind, std::string(error.message()));
    if (auto k = kindOf(kind)) sink_.lost(*k, error);
    if (observer_) observer_->onError(kind, error);
  }

 private:
  std::optional<objects::Kind> kindOf(const std::string& name) const {
    auto it = names_.find(name);
    if (it == names_.end()) return std::nullopt;
    return it->second;
  }
  daemon::ObjectSink& sink_;
  ReflectorObserver* observer_;
  const bool trim_;
  std::map<std::string, objects::Kind> names_;
};

KubeObjectSource::KubeObjectSource(ApiClient api, std::vector<objects::Kind> kinds,
                                   ReflectorObserver* observer, std::string local_node)
    : api_(std::move(api)), kinds_(std::move(kinds)), observer_(observer) {
  const bool pods = std::find(kinds_.begin(), kinds_.end(), objects::Kind::kPod) != kinds_.end();
  if (pods && !local_node.empty()) {
    local_pods_ = std::make_unique<daemon::LocalPods>(std::move(local_node));
  }
}

KubeObjectSource::~KubeObjectSource() { stop(); }

absl::Status KubeObjectSource::start(daemon::ObjectSink& sink) {
  if (adapter_) return absl::FailedPreconditionError("the Kubernetes source is already started");
  adapter_ = std::make_unique<Adapter>(sink, observer_);
  for (objects::Kind kind : kinds_) {
    ReflectorOptions o;
    o.resource = resourceOf(kind);
    o.kind = std::string(objects::kindName(kind));
    reflectors_.push_back(std::make_unique<Reflector>(api_, o, *adapter_, adapter_.get()));
  }
  if (local_pods_) {
    local_adapter_ =
        std::make_unique<Adapter>(*local_pods_, observer_, kLocalPodsWatch, objects::Kind::kPod);
    ReflectorOptions o;
    o.resource = podResource();
    o.kind = kLocalPodsWatch;
    o.field_selector = "spec.nodeName=" + local_pods_->node();
    // First: its list is short and it is what ADDs look at first.
    reflectors_.insert(reflectors_.begin(),
                       std::make_unique<Reflector>(api_, o, *local_adapter_, local_adapter_.get()));
  }
  for (auto& r : reflectors_) r->start();
  return absl::OkStatus();
}

void KubeObjectSource::stop() {
  for (auto& r : reflectors_) r->stop();
}

std::string KubeObjectSource::describe() const {
  return "kubernetes " + api_.http().config().server;
}

absl::StatusOr<std::optional<nlohmann::json>> KubeObjectSource::fetch(
    objects::Kind kind, const std::string& namespace_, const std::string& name,
    std::chrono::milliseconds deadline) {
  auto o = api_.get(resourceOf(kind), namespace_, name, deadline);
  if (absl::IsNotFound(o.status())) return std::optional<nlohmann::json>();
  if (!o.ok()) return o.status();
  return std::optional<nlohmann::json>(std::move(*o));
}

}  // namespace quasar::kube
