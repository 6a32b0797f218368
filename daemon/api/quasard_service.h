#pragma once
// quasard's gRPC IPAM service: translates the wire API (daemon/api/quasard.proto) to the
// AddressManager. Thread-safe: gRPC calls it from its worker threads; all state lives in the
// manager.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "daemon/agents/eni_agent.h"
#include "daemon/agents/policy_agent.h"
#include "daemon/agents/routing_agent.h"
#include "daemon/agents/veth_reaper.h"
#include "daemon/api/floating_ips.h"
#include "daemon/api/floating_service.h"
#include "daemon/api/pod_lookup.h"
#include "daemon/api/quasard.grpc.pb.h"
#include "daemon/cluster/cluster_view.h"
#include "daemon/cluster/object_store.h"
#include "daemon/cluster/object_view.h"
#include "daemon/cluster/pod_addresses.h"
#include "ipam/address_manager.h"
#include "ipam/eni/eni_pool.h"
#include "ipam/eni/eni_source.h"

namespace quasar::daemon {

struct NodeInfo {
  std::string node_name;
  std::string routing_mode;
  std::string uplink;
  uint32_t mtu = 1500;
  // Block mode: a full node claims another block, so it is ready while the cluster has one.
  bool claims_blocks = false;
  std::string store;
  int64_t started_unix_ms = 0;
};

class QuasardService final : public quasar::api::v1::Quasard::Service {
 public:
  QuasardService(ipam::AddressManager& manager, VethReaper& reaper, NodeInfo node)
      : manager_(manager), reaper_(reaper), node_(std::move(node)) {}

  // How long Allocate waits for the attachment's previous veth to be removed before it answers
  // UNAVAILABLE (the plugin's "try again later").
  static constexpr std::chrono::milliseconds kWaitForReaper{2000};

  grpc::Status Allocate(grpc::ServerContext*, const quasar::api::v1::AllocateRequest* req,
                        quasar::api::v1::AllocateReply* reply) override;
  // Allocate with an early answer: `on_reserved` gets the reply (durable = false) once the
  // address is reserved, before the commit (see reply_before_commit in quasard.proto). A non-zero
  // `claim` keeps the attachment for the caller until endClaim() (AllocateRequest::claim).
  grpc::Status allocate(
      const quasar::api::v1::AllocateRequest& req, quasar::api::v1::AllocateReply* reply,
      const std::function<void(const quasar::api::v1::AllocateReply&)>& on_reserved,
      uint64_t claim = 0);
  // Release by the holder of `claim` (0: by anyone, refused while an ADD claims it).
  grpc::Status release(const quasar::api::v1::ReleaseRequest& req,
                       quasar::api::v1::ReleaseReply* reply, uint64_t claim);
  void endClaim(const quasar::api::v1::Attachment& attachment, uint64_t claim);
  grpc::Status Release(grpc::ServerContext*, const quasar::api::v1::ReleaseRequest* req,
                       quasar::api::v1::ReleaseReply* reply) override;
  grpc::Status Get(grpc::ServerContext*, const quasar::api::v1::GetRequest* req,
                   quasar::api::v1::Allocation* reply) override;
  grpc::Status List(grpc::ServerContext*, const quasar::api::v1::ListRequest* req,
                    quasar::api::v1::ListReply* reply) override;
  grpc::Status Gc(grpc::ServerContext*, const quasar::api::v1::GcRequest* req,
                  quasar::api::v1::GcReply* reply) override;
  grpc::Status Status(grpc::ServerContext*, const quasar::api::v1::StatusRequest* req,
                      quasar::api::v1::StatusReply* reply) override;
  grpc::Status Nodes(grpc::ServerContext*, const quasar::api::v1::NodesRequest* req,
                     quasar::api::v1::NodesReply* reply) override;
  grpc::Status Apply(grpc::ServerContext*, const quasar::api::v1::ObjectsRequest* req,
                     quasar::api::v1::ObjectsReply* reply) override;
  grpc::Status DeleteObjects(grpc::ServerContext*, const quasar::api::v1::ObjectsRequest* req,
                             quasar::api::v1::ObjectsReply* reply) override;
  grpc::Status GetObjects(grpc::ServerContext*, const quasar::api::v1::GetObjectsRequest* req,
                          quasar::api::v1::ObjectsReply* reply) override;
  // The cluster view Nodes answers from and the object store; must outlive the service.
  void setClusterView(ClusterView* view) { view_ = view; }
  // What `quasarctl apply` writes (the datastore source only; null with the Kubernetes API).
  void setObjectStore(ObjectStore* objects) { objects_ = objects; }
  // What GetObjects and Nodes read: the object view, whatever its source.
  void setObjectView(const ObjectView* view) { object_view_ = view; }
  void setRoutingAgent(RoutingAgent* agent) { agent_ = agent; }
  // NetworkPolicy: an ADD answers only once the policies selecting the pod are enforced (no
  // gap), or fails with UNAVAILABLE when that takes longer than `deadline`.
  void setPolicyAgent(PolicyAgent* policy, std::chrono::milliseconds deadline) {
    policy_ = policy;
    policy_deadline_ = deadline;
  }
  grpc::Status ExplainPolicy(grpc::ServerContext*, const quasar::api::v1::ExplainPolicyRequest* req,
                             quasar::api::v1::ExplainPolicyReply* reply) override;
  grpc::Status PolicyStatus(grpc::ServerContext*, const quasar::api::v1::PolicyStatusRequest* req,
                            quasar::api::v1::PolicyStatusReply* reply) override;
  // With the datastore object source: every allocation and release is published cluster-wide.
  void setPodAddressPublisher(PodAddressPublisher* p) { pod_addresses_ = p; }
  // Where ADD learns the pod's annotations; without one nothing is looked up.
  void setPodLookup(PodLookup* pods, std::chrono::milliseconds deadline) {
    pods_ = pods;
    pod_lookup_deadline_ = deadline;
  }
  // ENI mode (docs/eni.md): pods that ask for no floating IP take the pool's addresses, and an
  // ADD answers only once `agent` has installed the pod's policy rules. Both must outlive the
  // service; unset: pods take pod-CIDR addresses.
  void setEni(EniAgent* agent, ipam::eni::EniPool* pool) {
    eni_agent_ = agent;
    eni_pool_ = pool;
  }
  // Floating IPs: without it every pod takes from the node's pod-CIDR blocks.
  void setFloatingIps(const FloatingIps* floating) { floating_ = floating; }
  grpc::Status Routes(grpc::ServerContext*, const quasar::api::v1::RoutesRequest* req,
                      quasar::api::v1::RoutesReply* reply) override;
  // quasarctl fip (floating_service.h): the cluster's floating leases through `allocator`,
  // which must outlive the service. Without one these calls are FAILED_PRECONDITION.
  void setFloatingAllocator(ipam::floating::FloatingAllocator* allocator) {
    fip_ = allocator ? std::make_unique<FloatingService>(*allocator) : nullptr;
  }
  grpc::Status FloatingLeases(grpc::ServerContext*,
                              const quasar::api::v1::FloatingLeasesRequest* req,
                              quasar::api::v1::FloatingLeasesReply* reply) override;
  grpc::Status ReserveFloatingIp(grpc::ServerContext*,
                                 const quasar::api::v1::ReserveFloatingIpRequest* req,
                                 quasar::api::v1::FloatingLease* reply) override;
  grpc::Status ReleaseFloatingIp(grpc::ServerContext*,
                                 const quasar::api::v1::ReleaseFloatingIpRequest* req,
                                 quasar::api::v1::ReleaseFloatingIpReply* reply) override;

 private:
  ipam::AddressManager& manager_;
  VethReaper& reaper_;
  const NodeInfo node_;
  ClusterView* view_ = nullptr;
  ObjectStore* objects_ = nullptr;
  RoutingAgent* agent_ = nullptr;
  PolicyAgent* policy_ = nullptr;
  EniAgent* eni_agent_ = nullptr;
  ipam::eni::EniPool* eni_pool_ = nullptr;
  std::chrono::milliseconds policy_deadline_{5000};
  PodAddressPublisher* pod_addresses_ = nullptr;
  PodLookup* pods_ = nullptr;
  const ObjectView* object_view_ = nullptr;
  const FloatingIps* floating_ = nullptr;
  std::unique_ptr<FloatingService> fip_;
  std::chrono::milliseconds pod_lookup_deadline_{500};
  // What each attachment's ADD learnt of its pod (Allocation.pod_annotations, pod_lookup).
  struct LookedUp {
    std::string lookup;
    std::map<std::string, std::string> annotations;
    bool unavailable = false;  // asked, but neither the view nor the source could answer
    std::shared_ptr<const objects::Pod> object;  // the pod, when found (not kept after ADD)
  };
  LookedUp lookUpPod(ipam::PodRef& pod);
  // What must hold before an ADD answers: the pod's ENI rules, then its policies enforced (its
  // addresses in the policy agent's sets). startBeforeAnswer() installs the rules and starts the
  // policy sync; finishBeforeAnswer() waits for that sync (so the address's commit runs
  // meanwhile). OK without an agent.
  struct BeforeAnswer {
    absl::Status status;                     // of the ENI rules
    std::optional<uint64_t> policy_started;  // the policy agent's generation to wait for
  };
  BeforeAnswer startBeforeAnswer(const ipam::Allocation& a,
                                 std::shared_ptr<const objects::Pod> object);
  absl::Status finishBeforeAnswer(const BeforeAnswer& started);
  void fillEniStatus(quasar::api::v1::EniStatus* out) const;
  void fillPodFacts(const ipam::Attachment& a, quasar::api::v1::Allocation* out);
  void describeUnderlay(const ipam::Allocation& a, quasar::api::v1::Allocation* out) const;
  mutable std::mutex looked_up_mu_;
  std::map<ipam::Attachment, LookedUp> looked_up_;
};

}  // namespace quasar::daemon
