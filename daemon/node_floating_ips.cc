#include "daemon/node_floating_ips.h"

#include <spdlog/spdlog.h>

#include <set>

#include "daemon/cluster/floating_pools.h"
#include "daemon/cluster/workloads.h"

namespace quasar::daemon {
namespace {

namespace fl = ipam::floating;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

fl::WorkloadRef toRef(const Workload& w) {
  switch (w.kind) {
    case WorkloadKind::kStatefulSet:
      return {fl::WorkloadKind::kStatefulSet, w.namespace_, w.name, w.uid};
    case WorkloadKind::kDeployment:
      return {fl::WorkloadKind::kDeployment, w.namespace_, w.name, w.uid};
    case WorkloadKind::kReplicaSet:
      return {fl::WorkloadKind::kReplicaSet, w.namespace_, w.name, w.uid};
    default:
      // A pod without a controller, or one of a kind quasar does not follow (DaemonSet, Job):
      // the pod is its own workload.
      return {};
  }
}

}  // namespace

NodeFloatingIps::NodeFloatingIps(Store& datastore, ObjectView& view, const LocalPods* local_pods,
                                 Options options)
    : view_(view),
      local_pods_(local_pods),
      options_(std::move(options)),
      leases_(datastore),
      allocator_(leases_, {options_.cooldown_ms}),
      source_(allocator_, [this] { return nodeFacts(); }),
      api_(source_, options_.uplink,
           [this](const ipam::PodRef& pod, const objects::Pod* known) {
             return resolve(pod, known);
           }),
      gone_nodes_(options_.node_gone_grace) {}

NodeFloatingIps::~NodeFloatingIps() { stop(); }

fl::NodeFacts NodeFloatingIps::nodeFacts() const {
  fl::NodeFacts facts;
  facts.name = options_.node_name;
  if (auto node = view_.get<objects::Node>("", options_.node_name)) facts = toNodeFacts(*node);
  facts.name = options_.node_name;
  std::set<conf::IpAddress> seen(facts.addresses.begin(), facts.addresses.end());
  for (const auto& a : options_.uplink_addresses) {
    if (seen.insert(a).second) facts.addresses.push_back(a);
  }
  return facts;
}

fl::WorkloadRef NodeFloatingIps::resolve(const ipam::PodRef& pod,
                                         const objects::Pod* known) const {
  // The pod as the ADD found it first: the view may not have it yet, or hold an older
  // incarnation of the same name.
  if (known) return toRef(resolveWorkload(*known, view_));
  std::shared_ptr<const objects::Pod> p;
  if (local_pods_) p = local_pods_->get(pod.namespace_, pod.name);
  if (!p) p = view_.get<objects::Pod>(pod.namespace_, pod.name);
  if (!p) return {};
  return toRef(resolveWorkload(*p, view_));
}

fl::WorkloadStatus NodeFloatingIps::liveness(const fl::WorkloadRef& w) const {
  auto status = [&w](const auto& object) -> fl::WorkloadStatus {
    if (!object || (!w.uid.empty() && object->metadata.uid != w.uid)) return {};
    return {true, object->replicas};
  };
  switch (w.kind) {
    case fl::WorkloadKind::kStatefulSet:
      return status(view_.get<objects::StatefulSet>(w.namespace_, w.name));
    case fl::WorkloadKind::kDeployment:
      return status(view_.get<objects::Deployment>(w.namespace_, w.name));
    case fl::WorkloadKind::kReplicaSet:
      return status(view_.get<objects::ReplicaSet>(w.namespace_, w.name));
    case fl::WorkloadKind::kPod:
      return {view_.get<objects::Pod>(w.namespace_, w.name) != nullptr, 1};
  }
  return {};
}

bool NodeFloatingIps::poolsReady() {
  if (pools_synced_) return true;
  if (!view_.synced()) return false;
  syncPools();  // the view has synced since the last sync: read them now
  return pools_synced_;
}

void NodeFloatingIps::syncPools() {
  // One at a time, so an older list never replaces a newer one. Synced before the list: then
  // the list is complete.
  std::lock_guard lock(sync_mu_);
  const bool synced = view_.synced();
  std::vector<fl::Pool> pools;
  for (const auto& p : view_.list<objects::FloatingIPPool>()) pools.push_back(toFloatingPool(*p));
  allocator_.setPools(std::move(pools));
  if (synced) pools_synced_ = true;
}

void NodeFloatingIps::start(ipam::AddressManager& manager) {
  api_.setPoolsReady([this] { return poolsReady(); });
  pools_sub_ = view_.subscribe({objects::Kind::kFloatingIPPool},
                               [this](const std::vector<ObjectEvent>&) { syncPools(); });
  syncPools();
  thread_ = std::thread([this, &manager] {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, options_.period, [this] { return stopping_; })) {
      lock.unlock();
      housekeep(manager);
      lock.lock();
    }
  });
}

void NodeFloatingIps::housekeep(ipam::AddressManager& manager) {
  const int64_t now = nowMs();
  auto reconciled = source_.reconcile([&manager] { return manager.heldAttachments(); }, now);
  if (!reconciled.ok()) {
    spdlog::warn("event=floating-reconcile-failed error=\"{}\"",
                 std::string(reconciled.status().message()));
  }
  releaseLeasesOfGoneNodes(now);
  removeStaleUnderlay(manager);
  if (!view_.synced()) return;
  auto freed = allocator_.gc([this](const fl::WorkloadRef& w) { return liveness(w); }, now);
  if (!freed.ok()) {
    spdlog::warn("event=floating-gc-failed error=\"{}\"", std::string(freed.status().message()));
    return;
  }
  for (const auto& l : *freed) {
    spdlog::info("event=floating-gc-freed ip={} pool={} policy={} workload={}/{}", l.ip.toString(),
                 l.pool, fl::toString(l.policy), l.workload.namespace_, l.workload.name);
  }
}

void NodeFloatingIps::releaseLeasesOfGoneNodes(int64_t now) {
  if (!options_.ready_nodes) return;
  auto ready = options_.ready_nodes();
  if (!ready) return;
  gone_nodes_.observe(*ready, GoneNodes::Clock::now());
  // Read only when there is something to decide with (not on every pass regardless).
  auto leases = allocator_.list();
  if (!leases.ok()) {
    spdlog::warn("event=floating-list-failed error=\"{}\"",
                 std::string(leases.status().message()));
    return;
  }
  for (const auto& l : *leases) {
    if (l.state != fl::LeaseState::kBound || l.node.empty() || l.node == options_.node_name ||
        !gone_nodes_.goneForGrace(l.node)) {
      continue;
    }
    if (auto s = allocator_.release(l.attachment, now); !s.ok()) {
      spdlog::warn("event=floating-gone-node-release-failed ip={} node={} error=\"{}\"",
                   l.ip.toString(), l.node, std::string(s.message()));
      continue;
    }
    spdlog::info("event=floating-gone-node-released ip={} node={} pod={}/{} policy={}",
                 l.ip.toString(), l.node, l.pod.namespace_, l.pod.name, fl::toString(l.policy));
  }
}

void NodeFloatingIps::removeStaleUnderlay(ipam::AddressManager& manager) {
  auto removed = api_.removeStaleUnderlay([&]() -> absl::StatusOr<std::set<conf::IpAddress>> {
    auto leases = allocator_.list();
    if (!leases.ok()) return leases.status();
    std::set<conf::IpAddress> mine;
    for (const auto& l : *leases) {
      if (l.state == fl::LeaseState::kBound && l.node == options_.node_name) mine.insert(l.ip);
    }
    // Also what the node holds whatever the datastore says (a lease lost to an operator's
    // release): its pod still uses the address.
    for (const auto& a : manager.list("")) {
      if (a.source == fl::FloatingSource::kName) mine.insert(a.ips.begin(), a.ips.end());
    }
    return mine;
  });
  if (!removed.ok()) {
    spdlog::warn("event=floating-underlay-reconcile-failed error=\"{}\"",
                 std::string(removed.status().message()));
  }
}

void NodeFloatingIps::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  pools_sub_.reset();
}

}  // namespace quasar::daemon
