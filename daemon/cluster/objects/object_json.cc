#include "daemon/cluster/objects/object_json.h"

#include <variant>

namespace quasar::objects {

using nlohmann::json;

namespace {

json envelope(Kind kind, const ObjectMeta& meta) {
  json j = json::object();
  j["apiVersion"] = std::string(apiVersionOf(kind));
  j["kind"] = std::string(jsonKindOf(kind));
  j["metadata"] = toJson(meta);
  return j;
}

void setIfNotEmpty(json& j, const char* key, const std::string& value) {
  if (!value.empty()) j[key] = value;
}

void setIfNotEmpty(json& j, const char* key, const Labels& labels) {
  if (!labels.empty()) j[key] = labels;
}

std::string_view operatorName(LabelSelectorRequirement::Operator op) {
  using Op = LabelSelectorRequirement::Operator;
  switch (op) {
    case Op::kIn:
      return "In";
    case Op::kNotIn:
      return "NotIn";
    case Op::kExists:
      return "Exists";
    case Op::kDoesNotExist:
      return "DoesNotExist";
  }
  return "Exists";
}

template <class T>
json prefixes(const std::vector<T>& list) {
  json out = json::array();
  for (const auto& p : list) out.push_back(p.toString());
  return out;
}

json peerJson(const NetworkPolicyPeer& peer) {
  json j = json::object();
  if (peer.pod_selector) j["podSelector"] = toJson(*peer.pod_selector);
  if (peer.namespace_selector) j["namespaceSelector"] = toJson(*peer.namespace_selector);
  if (peer.node_selector) j["nodeSelector"] = toJson(*peer.node_selector);
  if (peer.ip_block) {
    json block = {{"cidr", peer.ip_block->cidr.toString()}};
    if (!peer.ip_block->except.empty()) block["except"] = prefixes(peer.ip_block->except);
    j["ipBlock"] = std::move(block);
  }
  return j;
}

json portJson(const NetworkPolicyPort& port) {
  json j = {{"protocol", std::string(protocolName(port.protocol))}};
  if (port.port) {
    j["port"] = *port.port;
  } else if (!port.port_name.empty()) {
    j["port"] = port.port_name;
  }
  if (port.end_port) j["endPort"] = *port.end_port;
  return j;
}

json rulesJson(const std::vector<NetworkPolicyRule>& rules, const char* peers_key) {
  json out = json::array();
  for (const auto& rule : rules) {
    json r = json::object();
    if (!rule.peers.empty()) {
      json& peers = r[peers_key] = json::array();
      for (const auto& p : rule.peers) peers.push_back(peerJson(p));
    }
    if (!rule.ports.empty()) {
      json& ports = r["ports"] = json::array();
      for (const auto& p : rule.ports) ports.push_back(portJson(p));
    }
    out.push_back(std::move(r));
  }
  return out;
}

json policySpecJson(const NetworkPolicySpec& spec) {
  json j = {{"podSelector", toJson(spec.pod_selector)}};
  if (spec.node_selector) j["nodeSelector"] = toJson(*spec.node_selector);
  if (!spec.policy_types.empty()) {
    json& types = j["policyTypes"] = json::array();
    for (PolicyType t : spec.policy_types) {
      types.push_back(t == PolicyType::kEgress ? "Egress" : "Ingress");
    }
  }
  if (!spec.ingress.empty()) j["ingress"] = rulesJson(spec.ingress, "from");
  if (!spec.egress.empty()) j["egress"] = rulesJson(spec.egress, "to");
  return j;
}

std::string rangeText(const IpRange& r) {
  return r.first == r.last ? r.first.toString() : r.first.toString() + "-" + r.last.toString();
}

json rangesJson(const std::vector<IpRange>& ranges) {
  json out = json::array();
  for (const auto& r : ranges) out.push_back(rangeText(r));
  return out;
}

}  // namespace

json toJson(const ObjectMeta& meta) {
  json j = {{"name", meta.name}};
  setIfNotEmpty(j, "namespace", meta.namespace_);
  setIfNotEmpty(j, "uid", meta.uid);
  setIfNotEmpty(j, "resourceVersion", meta.resource_version);
  setIfNotEmpty(j, "creationTimestamp", meta.creation_timestamp);
  setIfNotEmpty(j, "labels", meta.labels);
  setIfNotEmpty(j, "annotations", meta.annotations);
  if (!meta.owner_references.empty()) {
    json& owners = j["ownerReferences"] = json::array();
    for (const auto& o : meta.owner_references) {
      json ref = {
          {"apiVersion", o.api_version}, {"kind", o.kind}, {"name", o.name}, {"uid", o.uid}};
      if (o.controller) ref["controller"] = true;
      owners.push_back(std::move(ref));
    }
  }
  return j;
}

json toJson(const LabelSelector& selector) {
  json j = json::object();
  setIfNotEmpty(j, "matchLabels", selector.match_labels);
  if (!selector.match_expressions.empty()) {
    json& exprs = j["matchExpressions"] = json::array();
    for (const auto& e : selector.match_expressions) {
      json req = {{"key", e.key}, {"operator", std::string(operatorName(e.op))}};
      if (!e.values.empty()) req["values"] = e.values;
      exprs.push_back(std::move(req));
    }
  }
  return j;
}

json toJson(const Node& node) {
  json j = envelope(Kind::kNode, node.metadata);
  json spec = json::object();
  if (!node.pod_cidrs.empty()) {
    spec["podCIDR"] = node.pod_cidrs.front().toString();
    spec["podCIDRs"] = prefixes(node.pod_cidrs);
  }
  j["spec"] = std::move(spec);
  json status = json::object();
  if (!node.addresses.empty()) {
    json& addresses = status["addresses"] = json::array();
    for (const auto& a : node.addresses) {
      addresses.push_back({{"type", a.type}, {"address", a.address}});
    }
  }
  j["status"] = std::move(status);
  return j;
}

json toJson(const Namespace& ns) { return envelope(Kind::kNamespace, ns.metadata); }

json toJson(const Pod& pod) {
  json j = envelope(Kind::kPod, pod.metadata);
  json spec = json::object();
  setIfNotEmpty(spec, "nodeName", pod.node_name);
  if (pod.host_network) spec["hostNetwork"] = true;
  json& containers = spec["containers"] = json::array();
  for (const auto& c : pod.containers) {
    json container = {{"name", c.name}};
    if (!c.ports.empty()) {
      json& ports = container["ports"] = json::array();
      for (const auto& p : c.ports) {
        json port = json::object();
        setIfNotEmpty(port, "name", p.name);
        port["containerPort"] = p.container_port;
        port["protocol"] = std::string(protocolName(p.protocol));
        ports.push_back(std::move(port));
      }
    }
    containers.push_back(std::move(container));
  }
  j["spec"] = std::move(spec);
  json status = json::object();
  setIfNotEmpty(status, "phase", pod.phase);
  if (!pod.pod_ips.empty()) {
    status["podIP"] = pod.pod_ips.front().toString();
    json& ips = status["podIPs"] = json::array();
    for (const auto& ip : pod.pod_ips) ips.push_back({{"ip", ip.toString()}});
  }
  j["status"] = std::move(status);
  return j;
}

json toJson(const NetworkPolicy& policy) {
  json j = envelope(Kind::kNetworkPolicy, policy.metadata);
  j["spec"] = policySpecJson(policy.spec);
  return j;
}

json toJson(const QuasarNetworkPolicy& policy) {
  json j = envelope(Kind::kQuasarNetworkPolicy, policy.metadata);
  j["spec"] = policySpecJson(policy.spec);
  return j;
}

json toJson(const FloatingIPPool& pool) {
  json j = envelope(Kind::kFloatingIPPool, pool.metadata);
  const FloatingIPPoolSpec& s = pool.spec;
  json spec = {{"subnet", s.subnet.toString()}};
  if (s.gateway) spec["gateway"] = s.gateway->toString();
  spec["ranges"] = rangesJson(s.ranges);
  if (!s.exclude.empty()) spec["exclude"] = rangesJson(s.exclude);
  if (s.vlan != 0) spec["vlan"] = s.vlan;
  if (!s.node_subnets.empty()) spec["nodeSubnets"] = prefixes(s.node_subnets);
  // The schema writes the node selector as a plain map: matchLabels only.
  setIfNotEmpty(spec, "nodeSelector", s.node_selector.match_labels);
  if (s.max_allocated) spec["maxAllocated"] = *s.max_allocated;
  spec["mode"] = s.mode == FloatingIPMode::kMacvlan ? "macvlan" : "veth";
  j["spec"] = std::move(spec);
  return j;
}

json toJson(const StatefulSet& set) {
  json j = envelope(Kind::kStatefulSet, set.metadata);
  j["spec"] = {{"replicas", set.replicas}};
  return j;
}

json toJson(const Deployment& deployment) {
  json j = envelope(Kind::kDeployment, deployment.metadata);
  j["spec"] = {{"replicas", deployment.replicas}};
  return j;
}

json toJson(const ReplicaSet& set) {
  json j = envelope(Kind::kReplicaSet, set.metadata);
  j["spec"] = {{"replicas", set.replicas}};
  return j;
}

json toJson(const Object& object) {
  return std::visit([](const auto& o) { return toJson(o); }, object.variant());
}

std::string toJsonText(const Object& object, int indent) {
  return toJson(object).dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace quasar::objects
