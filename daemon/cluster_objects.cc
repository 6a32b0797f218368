#include "daemon/cluster_objects.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "daemon/cluster/objects/node.h"
#include "daemon/cluster/store_object_source.h"
#include "daemon/kube/http_client.h"
#include "daemon/kube/kube_config.h"
#include "daemon/kube/kube_object_source.h"

namespace quasar::daemon {

absl::StatusOr<std::unique_ptr<ClusterObjects>> ClusterObjects::create(
    const conf::DaemonConfig& cfg, Store& datastore, kube::ReflectorObserver* observer) {
  std::unique_ptr<ClusterObjects> o(new ClusterObjects());
  if (cfg.kubernetes) {
    auto kc = cfg.kubernetes->kubeconfig.empty() ? kube::inClusterConfig()
                                                 : kube::loadKubeconfig(cfg.kubernetes->kubeconfig);
    if (!kc.ok())
      return absl::InvalidArgumentError(absl::StrCat("kubernetes: ", kc.status().message()));
    auto http = kube::HttpClient::create(*kc);
    if (!http.ok()) return http.status();
    o->api_.emplace(*http);
    // This node's pods also from a watch of their own: what ADDs read first.
    auto source = std::make_unique<kube::KubeObjectSource>(
        *o->api_, std::vector<objects::Kind>(objects::kAllKinds.begin(), objects::kAllKinds.end()),
        observer, cfg.node_name);
    o->local_pods_ = source->localPods();
    o->source_ = std::move(source);
  } else {
    o->source_ = std::make_unique<StoreObjectSource>(datastore);
    o->store_ = std::make_unique<ObjectStore>(datastore);
  }
  o->view_ = std::make_unique<ObjectView>(*o->source_);
  o->pods_ = std::make_unique<ViewPodLookup>(*o->view_, *o->source_, o->local_pods_);
  return o;
}

absl::Status ClusterObjects::start() {
  // Changes after the first sync, at debug: what the benchmark times label changes by.
  events_ = view_->subscribe({}, [this](const std::vector<ObjectEvent>& events) {
    if (!synced_.load() || !spdlog::should_log(spdlog::level::debug)) return;
    for (const auto& e : events) {
      const auto& m = e.object().metadata();
      spdlog::debug("event=view-event kind={} type={} namespace={} name={} rv={}",
                    objects::kindName(e.kind), toString(e.type), m.namespace_, m.name,
                    m.resource_version);
    }
  });
  node_events_ = view_->subscribe({objects::Kind::kNode}, [this](const std::vector<ObjectEvent>&) {
    if (annotator_) annotator_->notify();
  });
  started_ = std::chrono::steady_clock::now();
  if (auto s = view_->start(); !s.ok()) return s;
  sync_logger_ = std::thread([this] { logWhenSynced(); });
  return absl::OkStatus();
}

void ClusterObjects::logWhenSynced() {
  auto last_report = std::chrono::steady_clock::now();
  while (!stopping_.load()) {
    if (view_->waitSynced(std::chrono::steady_clock::now() + std::chrono::milliseconds(100))) {
      size_t n = 0;
      for (auto k : objects::kAllKinds) n += view_->stats(k).objects;
      // The lists' JSON is parsed and freed by now; hand the memory back before saying ready
      // (kube_object_source.cc trims after each list too, but the last may still be running).
      malloc_trim(0);
      synced_ = true;
      spdlog::info("event=object-view-synced source=\"{}\" objects={} ms={}", describe(), n,
                   std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - started_)
                       .count());
      return;
    }
    if (std::chrono::steady_clock::now() - last_report > std::chrono::seconds(10)) {
      last_report = std::chrono::steady_clock::now();
      std::string missing;
      for (auto k : source_->kinds()) {
        if (!view_->stats(k).synced)
          absl::StrAppend(&missing, missing.empty() ? "" : ",", std::string(objects::kindName(k)));
      }
      spdlog::warn("event=object-view-not-synced source=\"{}\" kinds={}", describe(), missing);
    }
  }
}

void ClusterObjects::stop() {
  stopping_ = true;
  if (sync_logger_.joinable()) sync_logger_.join();
  if (annotator_) annotator_->stop();
  events_.reset();
  node_events_.reset();
  if (view_) view_->stop();
}

absl::StatusOr<std::vector<conf::IpPrefix>> ClusterObjects::waitForPodCidrs(
    const std::string& node, const std::function<bool()>& cancelled) {
  auto last_report = std::chrono::steady_clock::time_point();
  while (!cancelled()) {
    if (auto n = view_->get<objects::Node>("", node); n && !n->pod_cidrs.empty()) {
      std::vector<conf::IpPrefix> v4;
      for (const auto& c : n->pod_cidrs) {
        if (c.family() == conf::Family::kV4) v4.push_back(c.network());
      }
      if (!v4.empty()) return v4;
    }
    if (std::chrono::steady_clock::now() - last_report > std::chrono::seconds(10)) {
      last_report = std::chrono::steady_clock::now();
      spdlog::warn(
          "event=waiting-for-pod-cidrs node={} reason=\"ipam: kubernetes takes the pod CIDRs "
          "from Node.spec.podCIDRs (IPv4); the view has none yet\"",
          node);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::CancelledError("stopped while waiting for Node.spec.podCIDRs");
}

void ClusterObjects::annotateNode(const std::string& node,
                                  kube::NodeAnnotator::Annotations annotations) {
  if (!api_ || annotator_) return;
  annotator_ = std::make_unique<kube::NodeAnnotator>(
      *api_, node, std::move(annotations),
      [this, node]() -> std::optional<kube::NodeAnnotator::Annotations> {
        auto n = view_->get<objects::Node>("", node);
        if (!n) return std::nullopt;
        return n->metadata.annotations;
      });
  annotator_->start();
}

}  // namespace quasar::daemon
