#pragma once
// The node's floating IPs, wired together (issue 13):
//   - leases in the cluster datastore (StoreLeaseStore): one key per address, compare-and-swap,
//     so no address is held twice across nodes and crashes;
//   - the allocator, fed with the object view's FloatingIPPool objects;
//   - the AddressSource the AddressManager drives, and the API side (FloatingIps);
//   - housekeeping every `period`: leases bound to this node's attachments that the node does
//     not hold are released (a crash between claim and commit), and what the release policies
//     no longer keep is freed (gc), the latter only while the object view is synced (a view that
//     is not would make every workload look gone);
//   - leases still bound to pods of a node that has been gone (not registered and ready) for
//     longer than `node_gone_grace` are released by their policy, as if their pods' DEL had
//     come: a Deployment's replicas on a dead node give their addresses back to the workload;
//   - the node's proxy ARP entries and macvlan leg routes for pool addresses not leased to this
//     node are removed (left by a crash, a missed DEL, or a pod that moved away).
//
// Threading: start() once; stop() (or the destructor) joins the housekeeping thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon/api/floating_ips.h"
#include "daemon/cluster/gone_nodes.h"
#include "daemon/cluster/local_pods.h"
#include "daemon/cluster/object_view.h"
#include "daemon/cluster/store_lease_store.h"
#include "daemon/store/store.h"
#include "ipam/address_manager.h"
#include "ipam/floating/floating_allocator.h"
#include "ipam/floating/floating_source.h"

namespace quasar::daemon {

class NodeFloatingIps {
 public:
  struct Options {
    std::string node_name;
    std::string uplink;                             // the node's interface on the physical network
    std::vector<conf::IpAddress> uplink_addresses;  // the node's own addresses there
    int64_t cooldown_ms = 30000;
    std::chrono::milliseconds period{10000};
    // The names of the nodes registered and ready now; nullopt while that is not known (the
    // cluster view not synced). Unset: leases of gone nodes are never released here.
    std::function<std::optional<std::set<std::string>>()> ready_nodes;
    std::chrono::milliseconds node_gone_grace{std::chrono::hours(1)};
  };

  // `datastore`, `view` and `local_pods` (may be null) must outlive this.
  NodeFloatingIps(Store& datastore, ObjectView& view, const LocalPods* local_pods, Options options);
  ~NodeFloatingIps();
  NodeFloatingIps(const NodeFloatingIps&) = delete;
  NodeFloatingIps& operator=(const NodeFloatingIps&) = delete;

  ipam::AddressSource& source() { return source_; }
  const FloatingIps& api() const { return api_; }
  ipam::floating::FloatingAllocator& allocator() { return allocator_; }

  // Follows the pools and starts housekeeping against `manager` (which must outlive this).
  void start(ipam::AddressManager& manager);
  void stop();
  // One housekeeping pass (also what the thread runs).
  void housekeep(ipam::AddressManager& manager);

 private:
  ipam::floating::NodeFacts nodeFacts() const;
  ipam::floating::WorkloadRef resolve(const ipam::PodRef& pod, const objects::Pod* known) const;
  ipam::floating::WorkloadStatus liveness(const ipam::floating::WorkloadRef& w) const;
  void syncPools();
  bool poolsReady();
  void releaseLeasesOfGoneNodes(int64_t now);
  void removeStaleUnderlay(ipam::AddressManager& manager);

  ObjectView& view_;
  const LocalPods* local_pods_;
  const Options options_;
  StoreLeaseStore leases_;
  ipam::floating::FloatingAllocator allocator_;
  ipam::floating::FloatingSource source_;
  FloatingIps api_;
  ObjectView::Subscription pools_sub_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::mutex sync_mu_;
  std::atomic<bool> pools_synced_ = false;  // the pools were read from a synced view
  GoneNodes gone_nodes_;  // housekeeping thread only
  std::thread thread_;
};

}  // namespace quasar::daemon
