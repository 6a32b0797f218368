#include "daemon/agents/policy_model.h"

#include <algorithm>
#include <set>
#include <utility>

#include "daemon/cluster/objects/network_policy.h"
#include "daemon/cluster/objects/node.h"

namespace quasar::daemon {
namespace {

namespace np = netpolicy;

constexpr char kNamespaceNameLabel[] = "kubernetes.io/metadata.name";

np::Protocol protocolOf(objects::Protocol p) {
  switch (p) {
    case objects::Protocol::kTcp:
      return np::Protocol::kTcp;
    case objects::Protocol::kUdp:
      return np::Protocol::kUdp;
    case objects::Protocol::kSctp:
      return np::Protocol::kSctp;
  }
  return np::Protocol::kTcp;
}

np::LabelSelector selectorOf(const objects::LabelSelector& s) {
  np::LabelSelector out;
  out.match_labels = s.match_labels;
  for (const auto& r : s.match_expressions) {
    np::SelectorRequirement req;
    req.key = r.key;
    req.values = r.values;
    using Op = objects::LabelSelectorRequirement::Operator;
    switch (r.op) {
      case Op::kIn:
        req.op = np::SelectorOp::kIn;
        break;
      case Op::kNotIn:
        req.op = np::SelectorOp::kNotIn;
        break;
      case Op::kExists:
        req.op = np::SelectorOp::kExists;
        break;
      case Op::kDoesNotExist:
        req.op = np::SelectorOp::kDoesNotExist;
        break;
    }
    out.match_expressions.push_back(std::move(req));
  }
  return out;
}

std::optional<np::LabelSelector> selectorOf(const std::optional<objects::LabelSelector>& s) {
  if (!s) return std::nullopt;
  return selectorOf(*s);
}

std::vector<np::Rule> rulesOf(const std::vector<objects::NetworkPolicyRule>& rules) {
  std::vector<np::Rule> out;
  for (const auto& r : rules) {
    np::Rule rule;
    for (const auto& p : r.peers) {
      np::Peer peer;
      peer.pod_selector = selectorOf(p.pod_selector);
      peer.namespace_selector = selectorOf(p.namespace_selector);
      peer.node_selector = selectorOf(p.node_selector);
      if (p.ip_block) peer.ip_block = np::IpBlock{p.ip_block->cidr, p.ip_block->except};
      rule.peers.push_back(std::move(peer));
    }
    for (const auto& p : r.ports) {
      np::PortSpec port;
      port.protocol = protocolOf(p.protocol);
      if (p.port) port.port = *p.port;
      port.port_name = p.port_name;
      if (p.end_port) port.end_port = *p.end_port;
      rule.ports.push_back(std::move(port));
    }
    out.push_back(std::move(rule));
  }
  return out;
}

np::Policy policyOf(const objects::ObjectMeta& meta, const objects::NetworkPolicySpec& spec,
                    std::string kind) {
  np::Policy p;
  p.namespace_name = meta.namespace_;
  p.name = meta.name;
  p.kind = std::move(kind);
  p.pod_selector = selectorOf(spec.pod_selector);
  p.node_selector = selectorOf(spec.node_selector);
  for (auto t : spec.policy_types) {
    p.policy_types.push_back(t == objects::PolicyType::kIngress ? np::Direction::kIngress
                                                                : np::Direction::kEgress);
  }
  p.ingress = rulesOf(spec.ingress);
  p.egress = rulesOf(spec.egress);
  return p;
}

// Labels, node and named ports of a pod object.
void describePod(const objects::Pod& pod, np::Pod* out) {
  out->labels = pod.metadata.labels;
  out->node = pod.node_name;
  for (const auto& c : pod.containers) {
    for (const auto& port : c.ports) {
      if (port.name.empty()) continue;
      out->ports.push_back({port.name, port.container_port, protocolOf(port.protocol)});
    }
  }
}

// The model's entry for one pod: the view's object (may be null) and this node's attachments
// of it (may be empty). nullopt when the pod has no network of its own or nothing is known.
std::optional<np::Pod> policyPod(const objects::Pod* object,
                                 const std::vector<const LocalPod*>& locals,
                                 const LocalNodeFacts& node, const std::string& namespace_,
                                 const std::string& name) {
  if (object != nullptr && (object->host_network || object->terminated())) return std::nullopt;
  if (object == nullptr && locals.empty()) return std::nullopt;
  np::Pod p;
  p.namespace_name = namespace_;
  p.name = name;
  if (object != nullptr) describePod(*object, &p);
  if (locals.empty()) {
    p.ips = object->pod_ips;
  } else {
    for (const LocalPod* l : locals) {
      p.ips.insert(p.ips.end(), l->ips.begin(), l->ips.end());
      // Not in the view yet: what its ADD found.
      if (object == nullptr && l->object && p.labels.empty()) describePod(*l->object, &p);
    }
    p.node = node.name;
  }
  std::sort(p.ips.begin(), p.ips.end());
  p.ips.erase(std::unique(p.ips.begin(), p.ips.end()), p.ips.end());
  return p;
}

}  // namespace

std::optional<netpolicy::Pod> buildPolicyPod(const ObjectView& view,
                                             const std::map<std::string, LocalPod>& local,
                                             const LocalNodeFacts& node,
                                             const std::string& namespace_,
                                             const std::string& name) {
  std::vector<const LocalPod*> locals;
  for (const auto& [key, pod] : local) {
    if (pod.namespace_ == namespace_ && pod.name == name) locals.push_back(&pod);
  }
  auto object = view.get<objects::Pod>(namespace_, name);
  return policyPod(object.get(), locals, node, namespace_, name);
}

netpolicy::Model buildPolicyModel(const ObjectView& view,
                                  const std::map<std::string, LocalPod>& local,
                                  const LocalNodeFacts& node) {
  np::Model model;
  // The local pods' addresses by pod (a pod may have several attachments).
  std::map<std::pair<std::string, std::string>, std::vector<const LocalPod*>> local_by_pod;
  for (const auto& [key, pod] : local) local_by_pod[{pod.namespace_, pod.name}].push_back(&pod);

  std::set<std::string> namespaces;
  auto add = [&](std::optional<np::Pod> p) {
    if (!p) return;
    namespaces.insert(p->namespace_name);
    model.pods.push_back(std::move(*p));
  };
  for (const auto& pod : view.list<objects::Pod>()) {
    const auto key = std::make_pair(pod->metadata.namespace_, pod->metadata.name);
    auto it = local_by_pod.find(key);
    std::vector<const LocalPod*> locals;
    if (it != local_by_pod.end()) {
      locals = std::move(it->second);
      local_by_pod.erase(it);
    }
    add(policyPod(pod.get(), locals, node, key.first, key.second));
  }
  // Local pods the view has not got yet.
  for (const auto& [key, locals] : local_by_pod) {
    add(policyPod(nullptr, locals, node, key.first, key.second));
  }

  for (const auto& ns : view.list<objects::Namespace>()) {
    np::Namespace n{ns->metadata.name, ns->metadata.labels};
    n.labels[kNamespaceNameLabel] = n.name;
    namespaces.erase(n.name);
    model.namespaces.push_back(std::move(n));
  }
  for (const auto& name : namespaces) {
    model.namespaces.push_back({name, {{kNamespaceNameLabel, name}}});
  }

  bool have_local = false;
  for (const auto& n : view.list<objects::Node>()) {
    np::Node out{n->metadata.name, n->metadata.labels, n->internalIps()};
    if (out.name == node.name) {
      have_local = true;
      out.ips.insert(out.ips.end(), node.ips.begin(), node.ips.end());
    }
    model.nodes.push_back(std::move(out));
  }
  if (!have_local && !node.name.empty()) model.nodes.push_back({node.name, {}, node.ips});

  for (const auto& p : view.list<objects::NetworkPolicy>()) {
    model.policies.push_back(policyOf(p->metadata, p->spec, ""));
  }
  for (const auto& p : view.list<objects::QuasarNetworkPolicy>()) {
    model.policies.push_back(policyOf(p->metadata, p->spec, np::kQuasarPolicyKind));
  }
  return model;
}

}  // namespace quasar::daemon
