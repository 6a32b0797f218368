#include "daemon/api/quasard_service.h"

#include <spdlog/spdlog.h>

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "conf/json_parse.h"
#include "daemon/cluster/objects/object_json.h"
#include "ipam/attachment_validation.h"
#include "ipam/failure_reason.h"
#include "routing/eni_routing.h"
#include "routing/pod_link.h"

namespace quasar::daemon {
namespace {

namespace pb = quasar::api::v1;

grpc::Status toGrpc(const absl::Status& s) {
  // absl and gRPC share the canonical code numbering. The failure reason rides in the details,
  // which the plugin transport turns into PluginReply.reason.
  const auto reason = ipam::reasonOf(s);
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()),
                      reason == ipam::FailureReason::kNone
                          ? std::string()
                          : std::to_string(static_cast<int>(reason)));
}

grpc::Status noFloatingIps() {
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "this quasard serves no floating IPs");
}

ipam::Attachment fromPb(const pb::Attachment& a) { return {a.container_id(), a.ifname()}; }

// Every call that carries an attachment goes through here before its names reach a log line or
// an interface name.
grpc::Status checkAttachment(const pb::Attachment& a) {
  return toGrpc(ipam::validateAttachment(fromPb(a)));
}

void toPb(const ipam::Allocation& a, pb::Allocation* out) {
  out->Clear();
  out->mutable_attachment()->set_container_id(a.attachment.container_id);
  out->mutable_attachment()->set_ifname(a.attachment.ifname);
  out->set_network(a.network);
  out->set_netns(a.netns);
  out->mutable_pod()->set_namespace_(a.pod.namespace_);
  out->mutable_pod()->set_name(a.pod.name);
  out->mutable_pod()->set_uid(a.pod.uid);
  for (const auto& ip : a.ips) out->add_ips(conf::IpPrefix::host(ip).toString());
  out->set_created_unix_ms(a.created_unix_ms);
  out->set_source(a.source);
}

std::string ipsText(const std::vector<conf::IpAddress>& ips) {
  return absl::StrJoin(
      ips, ",", [](std::string* out, const conf::IpAddress& ip) { out->append(ip.toString()); });
}

}  // namespace

grpc::Status QuasardService::Allocate(grpc::ServerContext*, const pb::AllocateRequest* req,
                                      pb::AllocateReply* reply) {
  return allocate(*req, reply, nullptr);
}

grpc::Status QuasardService::allocate(
    const pb::AllocateRequest& request, pb::AllocateReply* reply,
    const std::function<void(const pb::AllocateReply&)>& on_reserved, uint64_t claim) {
  const pb::AllocateRequest* req = &request;
  if (auto s = checkAttachment(req->attachment()); !s.ok()) return s;
  ipam::AllocateRequest r{fromPb(req->attachment()),
                          req->network(),
                          req->netns(),
                          {req->pod().namespace_(), req->pod().name(), req->pod().uid()},
                          {},
                          claim};
  for (const auto& text : req->requested_ips()) {
    auto ip = conf::IpAddress::parse(text.substr(0, text.find('/')));
    if (!ip.ok()) return toGrpc(ip.status());
    r.requested_ips.push_back(*ip);
  }
  // The same attachment's previous pair may still be on its way out (DEL answers before the
  // kernel has removed it): wait for that, rather than have the plugin find it and fail. Past
  // the limit the runtime is asked to try again; proceeding would race the reaper.
  if (!reaper_.waitFor(routing::hostVethName(r.attachment), kWaitForReaper)) {
    return grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        absl::StrCat("attachment ", r.attachment.container_id, "/", r.attachment.ifname,
                     ": its previous veth is still being removed; retry"));
  }
  LookedUp looked_up = lookUpPod(r.pod);
  // NetworkPolicy before the final answer: the pod is in its policies' sets when the plugin
  // answers the runtime, so a pod a policy isolates never runs unisolated. The early answer
  // goes first and the policy sync runs while the address commits: the plugin builds the veth
  // meanwhile and reports nothing until the durable answer, which a failure to enforce turns
  // into an error (fail closed: the plugin removes the veth, the address is released here).
  const std::shared_ptr<const objects::Pod> pod_object = looked_up.object;
  std::optional<BeforeAnswer> before;
  std::function<void(const ipam::AllocateResult&)> hook;
  if (on_reserved) {
    hook = [&](const ipam::AllocateResult& reserved) {
      pb::AllocateReply early;
      toPb(reserved.allocation, early.mutable_allocation());
      describeUnderlay(reserved.allocation, early.mutable_allocation());
      early.set_created(reserved.created);
      early.set_mtu(node_.mtu);
      early.set_durable(false);
      on_reserved(early);
      before = startBeforeAnswer(reserved.allocation, pod_object);
    };
  }
  if (floating_) {
    // The annotations choose the source and the release policy: unread, the pod could get a
    // pod-CIDR address (or a floating one under the wrong policy) it keeps for its life. With
    // no pool at all there is nothing else to choose, so the ADD goes on as without floating
    // IPs. A pod the source answers does not exist ("none") has no annotations to miss.
    if (looked_up.unavailable && floating_->hasPools()) {
      spdlog::warn("event=allocate-refused container={} ifname={} pod={}/{} reason=pod-lookup",
                   r.attachment.container_id, r.attachment.ifname, r.pod.namespace_, r.pod.name);
      return grpc::Status(
          grpc::StatusCode::UNAVAILABLE,
          absl::StrCat("pod ", r.pod.namespace_, "/", r.pod.name,
                       ": its annotations cannot be read (", looked_up.lookup,
                       ") and this node has floating-IP pools, so its address source cannot be "
                       "chosen; try again once the API server answers"));
    }
    auto choice =
        floating_->choose(looked_up.annotations, r.requested_ips, r.pod, looked_up.object.get());
    looked_up.object.reset();
    if (!choice.ok()) return toGrpc(choice.status());
    r.source = choice->source;
    r.source_request = std::move(choice->request);
  }
  if (eni_agent_ && r.source.empty()) r.source = ipam::eni::EniSource::kName;
  auto result = manager_.allocate(r, hook);
  if (!result.ok()) {
    spdlog::warn("event=allocate-failed container={} ifname={} error=\"{}\"",
                 r.attachment.container_id, r.attachment.ifname,
                 std::string(result.status().message()));
    // The reservation did not commit: its addresses leave the sets again.
    if (before && before->policy_started) policy_->podStopped(r.attachment.key());
    return toGrpc(result.status());
  }
  if (!before) before = startBeforeAnswer(result->allocation, pod_object);
  const absl::Status policy_status = finishBeforeAnswer(*before);
  if (!policy_status.ok()) {
    spdlog::warn(
        "event=allocate-refused container={} ifname={} pod={}/{} reason=policy error=\"{}\"",
        r.attachment.container_id, r.attachment.ifname, r.pod.namespace_, r.pod.name,
        std::string(policy_status.message()));
    if (result->created) {
      if (auto undone = manager_.release(r.attachment, /*hold=*/false, claim); !undone.ok()) {
        spdlog::warn("event=allocate-undo-failed container={} error=\"{}\"",
                     r.attachment.container_id, std::string(undone.status().message()));
      }
      if (policy_) policy_->podStopped(r.attachment.key());
    }
    return toGrpc(absl::UnavailableError(policy_status.message()));
  }
  if (result->created) {
    spdlog::info("event=allocate container={} ifname={} pod={}/{} ips={}",
                 r.attachment.container_id, r.attachment.ifname, r.pod.namespace_, r.pod.name,
                 ipsText(result->allocation.ips));
  }
  if (!looked_up.lookup.empty()) {
    std::lock_guard lock(looked_up_mu_);
    looked_up_[r.attachment] = std::move(looked_up);
  }
  if (pod_addresses_) {
    const auto& a = result->allocation;
    std::vector<std::string> ips;
    for (const auto& ip : a.ips) ips.push_back(ip.toString());
    pod_addresses_->setAttachment(a.pod.namespace_, a.pod.name, a.pod.uid, a.attachment.key(),
                                  std::move(ips));
  }
  toPb(result->allocation, reply->mutable_allocation());
  describeUnderlay(result->allocation, reply->mutable_allocation());
  fillPodFacts(r.attachment, reply->mutable_allocation());
  reply->set_created(result->created);
  reply->set_mtu(node_.mtu);
  reply->set_durable(true);
  return grpc::Status::OK;
}

// Annotations that select what quasar does for a pod: quasar's own and Galaxy's synonyms.
static bool isQuasarAnnotation(const std::string& key) {
  return absl::StartsWith(key, "quasar.io/") || absl::StartsWith(key, "k8s.v1.cni.galaxy.io/");
}

QuasardService::LookedUp QuasardService::lookUpPod(ipam::PodRef& pod) {
  LookedUp out;
  if (!pods_ || pod.name.empty() || pod.namespace_.empty()) return out;
  auto facts = pods_->find(pod.namespace_, pod.name, pod.uid, pod_lookup_deadline_);
  if (!facts.ok()) {
    // The caller decides: with floating-IP pools the ADD fails (try again), else it goes on.
    spdlog::warn("event=pod-lookup-failed pod={}/{} error=\"{}\"", pod.namespace_, pod.name,
                 std::string(facts.status().message()));
    out.lookup = absl::StrCat("unavailable: ", facts.status().message());
    out.unavailable = true;
    return out;
  }
  if (!facts->has_value()) {
    out.lookup = "none";
    return out;
  }
  out.lookup = (*facts)->source;
  out.object = (*facts)->object;
  if (pod.uid.empty()) pod.uid = (*facts)->uid;
  for (const auto& [k, v] : (*facts)->annotations) {
    if (isQuasarAnnotation(k)) out.annotations[k] = v;
  }
  return out;
}

QuasardService::BeforeAnswer QuasardService::startBeforeAnswer(
    const ipam::Allocation& a, std::shared_ptr<const objects::Pod> object) {
  BeforeAnswer out;
  if (eni_agent_ && a.source == ipam::eni::EniSource::kName) {
    if (auto s = eni_agent_->podAdded(a.ips); !s.ok()) {
      out.status = absl::UnavailableError(absl::StrCat("ENI policy rules: ", s.message()));
      return out;
    }
  }
  if (policy_) {
    out.policy_started = policy_->podStarting(
        a.attachment.key(), {a.pod.namespace_, a.pod.name, a.ips, std::move(object)});
  }
  return out;
}

absl::Status QuasardService::finishBeforeAnswer(const BeforeAnswer& started) {
  if (!started.status.ok() || !started.policy_started) return started.status;
  return policy_->awaitApplied(*started.policy_started, policy_deadline_);
}

void QuasardService::describeUnderlay(const ipam::Allocation& a, pb::Allocation* out) const {
  if (!floating_ || a.source != ipam::floating::FloatingSource::kName) return;
  if (auto s = floating_->describe(a, out->mutable_underlay()); !s.ok()) {
    // The plugin refuses an underlay without a device: the ADD fails and is rolled back.
    spdlog::warn("event=floating-underlay-unknown container={} ifname={} error=\"{}\"",
                 a.attachment.container_id, a.attachment.ifname, std::string(s.message()));
  }
}

void QuasardService::fillPodFacts(const ipam::Attachment& a, pb::Allocation* out) {
  std::lock_guard lock(looked_up_mu_);
  auto it = looked_up_.find(a);
  if (it == looked_up_.end()) return;
  out->set_pod_lookup(it->second.lookup);
  for (const auto& [k, v] : it->second.annotations) (*out->mutable_pod_annotations())[k] = v;
}

void QuasardService::endClaim(const pb::Attachment& attachment, uint64_t claim) {
  manager_.endClaim(fromPb(attachment), claim);
}

grpc::Status QuasardService::Release(grpc::ServerContext*, const pb::ReleaseRequest* req,
                                     pb::ReleaseReply* reply) {
  return release(*req, reply, 0);
}

grpc::Status QuasardService::release(const pb::ReleaseRequest& request, pb::ReleaseReply* reply,
                                     uint64_t claim) {
  const pb::ReleaseRequest* req = &request;
  if (auto s = checkAttachment(req->attachment()); !s.ok()) return s;
  const bool reap = !req->host_ifname().empty();
  // The only interface a release may remove is the one derived from its own attachment.
  if (reap && req->host_ifname() != routing::hostVethName(fromPb(req->attachment()))) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "host_ifname must be the attachment's own node-side veth");
  }
  // The pair to remove is the one there while the attachment is still held: a later ADD of the
  // same attachment makes another under the same name, which the reaper must not touch.
  int host_ifindex = 0;
  if (reap) {
    auto index = reaper_.indexOf(req->host_ifname());
    if (!index.ok()) return toGrpc(index.status());
    host_ifindex = *index;
  }
  auto before = manager_.get(fromPb(req->attachment()));
  auto released = manager_.release(fromPb(req->attachment()), /*hold=*/reap, claim);
  if (!released.ok()) return toGrpc(released.status());
  if (floating_ && before.ok() && !released->empty()) {
    reply->set_underlay_mode(floating_->released(*before));
  }
  // Also with nothing released: a half-done ADD may have left the veth.
  if (reap) reaper_.enqueue(req->host_ifname(), host_ifindex, *released);
  if (pod_addresses_) pod_addresses_->removeAttachment(fromPb(req->attachment()).key());
  if (policy_) policy_->podStopped(fromPb(req->attachment()).key());
  {
    std::lock_guard lock(looked_up_mu_);
    looked_up_.erase(fromPb(req->attachment()));
  }
  if (!released->empty()) {
    spdlog::info("event=release container={} ifname={} ips={}", req->attachment().container_id(),
                 req->attachment().ifname(), ipsText(*released));
  }
  for (const auto& ip : *released) reply->add_released_ips(ip.toString());
  return grpc::Status::OK;
}

grpc::Status QuasardService::Get(grpc::ServerContext*, const pb::GetRequest* req,
                                 pb::Allocation* reply) {
  if (auto s = checkAttachment(req->attachment()); !s.ok()) return s;
  auto a = manager_.get(fromPb(req->attachment()));
  if (!a.ok()) return toGrpc(a.status());
  toPb(*a, reply);
  describeUnderlay(*a, reply);
  fillPodFacts(a->attachment, reply);
  return grpc::Status::OK;
}

grpc::Status QuasardService::List(grpc::ServerContext*, const pb::ListRequest* req,
                                  pb::ListReply* reply) {
  for (const auto& a : manager_.list(req->network())) {
    toPb(a, reply->add_allocations());
    fillPodFacts(a.attachment, reply->mutable_allocations(reply->allocations_size() - 1));
  }
  return grpc::Status::OK;
}

grpc::Status QuasardService::Gc(grpc::ServerContext*, const pb::GcRequest* req,
                                pb::GcReply* reply) {
  if (req->network().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "gc needs the network name");
  }
  std::vector<ipam::Attachment> valid;
  std::set<std::string> keep;
  for (const auto& a : req->valid()) {
    if (auto s = checkAttachment(a); !s.ok()) return s;
    valid.push_back(fromPb(a));
    keep.insert(routing::hostVethName(valid.back()));
  }
  // Each stale attachment goes as a DEL's does: its veth's index taken while it is still held,
  // the address held until the reaper has removed that veth.
  for (auto& a : manager_.stale(req->network(), valid)) {
    const std::string host = routing::hostVethName(a.attachment);
    auto index = reaper_.indexOf(host);
    if (!index.ok()) return toGrpc(index.status());
    auto released = manager_.release(a.attachment, /*hold=*/true);
    // Changed since stale() (Unavailable): left to the next GC.
    if (absl::IsUnavailable(released.status())) continue;
    if (!released.ok()) return toGrpc(released.status());
    if (released->empty()) continue;  // released meanwhile, by a DEL that reaps its veth
    reaper_.enqueue(host, *index, *released);
    if (floating_) floating_->released(a);
    if (pod_addresses_) pod_addresses_->removeAttachment(a.attachment.key());
    if (policy_) policy_->podStopped(a.attachment.key());
    {
      std::lock_guard lock(looked_up_mu_);
      looked_up_.erase(a.attachment);
    }
    spdlog::info("event=gc-release container={} ifname={} ips={}", a.attachment.container_id,
                 a.attachment.ifname, ipsText(a.ips));
    toPb(a, reply->add_released());
  }
  // Then every other veth that no attachment quasard holds, in any state, owns.
  auto removed = reaper_.removeOrphans(keep);
  if (!removed.ok()) return toGrpc(removed.status());
  reply->set_veths_removed(*removed);
  return grpc::Status::OK;
}

grpc::Status QuasardService::Status(grpc::ServerContext*, const pb::StatusRequest*,
                                    pb::StatusReply* reply) {
  reply->set_node_name(node_.node_name);
  reply->set_version(QUASAR_VERSION);
  reply->set_mtu(node_.mtu);
  reply->set_routing_mode(node_.routing_mode);
  reply->set_uplink(node_.uplink);
  reply->set_store_path(node_.store);
  reply->set_started_unix_ms(node_.started_unix_ms);
  bool any_free = false;
  for (const auto& p : manager_.stats()) {
    auto* ps = reply->add_pools();
    ps->set_cidr(p.cidr.toString());
    ps->set_capacity(absl::Uint128Low64(p.stats.capacity));
    ps->set_used(p.stats.used);
    ps->set_cooling(p.stats.cooling);
    any_free |= p.stats.capacity > p.stats.used + p.stats.cooling;
  }
  reply->set_allocations(manager_.list("").size());
  reply->set_commit_transactions(manager_.committer().transactions());
  reply->set_commit_mutations(manager_.committer().mutations());
  reply->set_ready(any_free || node_.claims_blocks);
  if (eni_pool_) fillEniStatus(reply->mutable_eni());
  return grpc::Status::OK;
}

void QuasardService::fillEniStatus(pb::EniStatus* out) const {
  const auto s = eni_pool_->status();
  out->set_enabled(true);
  out->set_started(s.started);
  out->set_start_error(s.start_error);
  out->set_instance_id(s.instance_id);
  out->set_instance_type(s.instance_type);
  out->set_max_interfaces(s.instance_limits.max_interfaces);
  out->set_ipv4_per_interface(s.instance_limits.ipv4_per_interface);
  out->set_formula(ipam::eni::formulaName(s.limits.formula));
  out->set_explanation(s.limits.explanation);
  out->set_max_pods(s.limits.max_pods);
  out->set_capacity(s.capacity);
  out->set_assigned(s.assigned);
  out->set_used(s.used);
  out->set_free(s.free);
  out->set_cooling(s.cooling + s.held);
  out->set_desired(s.desired);
  out->set_warm_ip_target(s.warm_ip_target);
  out->set_minimum_ip_target(s.minimum_ip_target);
  out->set_warm_eni_target(s.warm_eni_target);
  for (const auto& i : s.interfaces) {
    auto* pi = out->add_interfaces();
    pi->set_id(i.interface.id);
    pi->set_mac(i.interface.mac);
    pi->set_device_index(i.interface.device_index);
    pi->set_subnet(i.interface.subnet_cidr.toString());
    pi->set_primary_ip(i.interface.primary_ip.toString());
    pi->set_used(i.used);
    pi->set_free(i.free);
    pi->set_cooling(i.cooling + i.held);
    pi->set_created_by_quasar(i.interface.created_by_quasar);
    pi->set_table(i.interface.device_index > 0 ? routing::eniTable(i.interface.device_index) : 0);
  }
  for (const auto& u : s.untouched) out->add_untouched(u);
  for (const auto& ip : s.lost) out->add_lost(ip.toString());
  out->set_last_refill_error(s.last_refill_error);
  if (eni_agent_) {
    const auto a = eni_agent_->stats();
    out->set_agent_passes(a.passes);
    out->set_agent_error(a.last_error);
    out->set_rules(a.rules);
  }
}

grpc::Status QuasardService::Nodes(grpc::ServerContext*, const pb::NodesRequest*,
                                   pb::NodesReply* reply) {
  if (!view_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no cluster view yet");
  // A node's labels are its Node object's (set by the operator, or by NVIDIA's feature
  // discovery on GPU nodes), over those of its quasard config. Nodes that have a Node object
  // but no quasard registration are listed too, not ready.
  std::map<std::string, std::shared_ptr<const objects::Node>> node_objects;
  if (object_view_) {
    for (auto& n : object_view_->list<objects::Node>()) node_objects[n->metadata.name] = n;
  }
  std::map<std::string, pb::Node> out;
  for (const auto& n : view_->nodes()) {
    pb::Node& o = out[n.record.name];
    o.set_name(n.record.name);
    o.set_ip(n.record.ip);
    o.set_subnet(n.record.subnet);
    o.set_uplink(n.record.uplink);
    for (const auto& [k, v] : n.record.labels) (*o.mutable_labels())[k] = v;
    for (const auto& b : n.blocks) o.add_blocks(b.toString());
    o.set_ready(n.ready);
  }
  for (const auto& [name, node] : node_objects) {
    auto [it, fresh] = out.try_emplace(name);
    pb::Node& o = it->second;
    if (fresh) {
      o.set_name(name);
      const auto ips = node->internalIps();
      if (!ips.empty()) o.set_ip(ips.front().toString());
      for (const auto& c : node->pod_cidrs) o.add_blocks(c.toString());
    }
    for (const auto& [k, v] : node->metadata.labels) (*o.mutable_labels())[k] = v;
  }
  for (auto& [_, o] : out) *reply->add_nodes() = std::move(o);
  return grpc::Status::OK;
}

namespace {
grpc::Status objectsReply(const absl::StatusOr<std::vector<std::string>>& r,
                          pb::ObjectsReply* reply, bool results) {
  if (!r.ok()) return toGrpc(r.status());
  for (const auto& s : *r) {
    if (results) {
      reply->add_results(s);
    } else {
      reply->add_objects_json(s);
    }
  }
  return grpc::Status::OK;
}
}  // namespace

// With the Kubernetes API source the API server is the only writer of objects.
constexpr char kObjectsFromKubernetes[] =
    "objects come from the Kubernetes API server (the config's kubernetes section): change them "
    "with kubectl";

grpc::Status QuasardService::Apply(grpc::ServerContext*, const pb::ObjectsRequest* req,
                                   pb::ObjectsReply* reply) {
  if (!objects_) return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, kObjectsFromKubernetes);
  auto r = objects_->apply({req->objects_json().begin(), req->objects_json().end()});
  if (r.ok()) {
    for (const auto& line : *r) spdlog::info("event=apply object=\"{}\"", line);
  }
  return objectsReply(r, reply, true);
}

grpc::Status QuasardService::DeleteObjects(grpc::ServerContext*, const pb::ObjectsRequest* req,
                                           pb::ObjectsReply* reply) {
  if (!objects_) return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, kObjectsFromKubernetes);
  return objectsReply(objects_->remove({req->objects_json().begin(), req->objects_json().end()}),
                      reply, true);
}

grpc::Status QuasardService::Routes(grpc::ServerContext*, const pb::RoutesRequest*,
                                    pb::RoutesReply* reply) {
  if (!agent_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no routing agent");
  reply->set_node(node_.node_name);
  reply->set_mode(std::string(conf::routingModeName(agent_->mode())));
  for (const auto& r : agent_->planned()) {
    auto* out = reply->add_routes();
    out->set_destination(r.dst.toString());
    out->set_node(r.node);
    out->set_path(std::string(routing::pathName(r.path)));
    if (r.via) out->set_via(r.via->toString());
    out->set_device(r.device);
    out->set_reason(r.reason);
  }
  return grpc::Status::OK;
}

grpc::Status QuasardService::GetObjects(grpc::ServerContext*, const pb::GetObjectsRequest* req,
                                        pb::ObjectsReply* reply) {
  if (!object_view_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no object view yet");
  const auto kind = objects::parseKindArg(req->kind());
  if (!kind) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("unknown kind \"", conf::toValidUtf8(req->kind()),
                                     "\": nodes, namespaces, pods, networkpolicies, "
                                     "networkpolicies.quasar.io, floatingippools"));
  }
  const std::string ns = objects::isNamespaced(*kind) ? req->namespace_() : "";
  if (!req->name().empty()) {
    auto o = object_view_->get(*kind, objects::isNamespaced(*kind) && ns.empty() ? "default" : ns,
                               req->name());
    if (!o) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat(std::string(objects::kindName(*kind)), " ",
                                       conf::toValidUtf8(req->name()), " not found"));
    }
    reply->add_objects_json(objects::toJsonText(*o));
    return grpc::Status::OK;
  }
  for (const auto& o : object_view_->list(*kind, ns)) {
    reply->add_objects_json(objects::toJsonText(*o));
  }
  return grpc::Status::OK;
}

grpc::Status QuasardService::FloatingLeases(grpc::ServerContext*,
                                            const pb::FloatingLeasesRequest* req,
                                            pb::FloatingLeasesReply* reply) {
  if (!fip_) return noFloatingIps();
  return toGrpc(fip_->list(*req, reply));
}

grpc::Status QuasardService::ReserveFloatingIp(grpc::ServerContext*,
                                               const pb::ReserveFloatingIpRequest* req,
                                               pb::FloatingLease* reply) {
  if (!fip_) return noFloatingIps();
  return toGrpc(fip_->reserve(*req, reply));
}

grpc::Status QuasardService::ReleaseFloatingIp(grpc::ServerContext*,
                                               const pb::ReleaseFloatingIpRequest* req,
                                               pb::ReleaseFloatingIpReply*) {
  if (!fip_) return noFloatingIps();
  return toGrpc(fip_->release(*req));
}

namespace {

void toPb(const netpolicy::DirectionVerdict& d, pb::PolicyDirection* out) {
  out->set_isolated(d.isolated);
  out->set_allowed(d.allowed);
  auto put = [](const netpolicy::RuleRef& r, pb::PolicyRuleRef* o) {
    o->set_kind(r.policy_kind);
    o->set_namespace_(r.policy_namespace);
    o->set_name(r.policy_name);
    o->set_rule(r.rule);
  };
  for (const auto& r : d.isolating) put(r, out->add_isolating());
  for (const auto& r : d.allowing) put(r, out->add_allowing());
}

}  // namespace

grpc::Status QuasardService::ExplainPolicy(grpc::ServerContext*,
                                           const pb::ExplainPolicyRequest* req,
                                           pb::ExplainPolicyReply* reply) {
  if (!policy_) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "this quasard enforces no network policy (networkPolicy: false)");
  }
  const std::string proto =
      absl::AsciiStrToUpper(req->protocol().empty() ? "TCP" : req->protocol());
  netpolicy::Protocol protocol;
  if (proto == "TCP") {
    protocol = netpolicy::Protocol::kTcp;
  } else if (proto == "UDP") {
    protocol = netpolicy::Protocol::kUdp;
  } else if (proto == "SCTP") {
    protocol = netpolicy::Protocol::kSctp;
  } else {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "protocol must be TCP, UDP or SCTP");
  }
  if (req->port() < 1 || req->port() > 65535) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "port must be in 1..65535");
  }
  auto v = policy_->explain(req->from_namespace(), req->from_pod(), req->to_namespace(),
                            req->to_pod(), static_cast<int>(req->port()), protocol);
  if (!v.ok()) return toGrpc(v.status());
  reply->set_allowed(v->allowed);
  toPb(v->egress, reply->mutable_egress());
  toPb(v->ingress, reply->mutable_ingress());
  reply->set_text(netpolicy::describe(*v));
  return grpc::Status::OK;
}

grpc::Status QuasardService::PolicyStatus(grpc::ServerContext*, const pb::PolicyStatusRequest*,
                                          pb::PolicyStatusReply* reply) {
  if (!policy_) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "this quasard enforces no network policy (networkPolicy: false)");
  }
  const PolicyAgent::Stats s = policy_->stats();
  reply->set_ready(s.ready);
  reply->set_syncs(s.syncs);
  reply->set_sync_errors(s.sync_errors);
  reply->set_repairs(s.repairs);
  reply->set_last_sync_ms(s.last_sync_ms);
  reply->set_policies(s.policies);
  reply->set_pods(s.pods);
  reply->set_rules(s.rules);
  reply->set_sets(s.sets);
  reply->set_set_members(s.set_members);
  reply->set_last_error(s.last_error);
  return grpc::Status::OK;
}

}  // namespace quasar::daemon
