#include "daemon/cluster/objects/network_policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "daemon/cluster/objects/meta_parse.h"

namespace quasar::objects {

using internal::field;
using internal::index;
using internal::member;
using internal::Reader;
using nlohmann::json;

bool NetworkPolicySpec::isolates(PolicyType t) const {
  return std::find(policy_types.begin(), policy_types.end(), t) != policy_types.end();
}

namespace {

constexpr char kQuasarOnly[] = "is allowed only in quasar.io/v1 NetworkPolicy";

std::optional<LabelSelector> optionalSelector(Reader& r, const json& obj, const char* key,
                                              const std::string& path, bool allowed) {
  const json* v = member(obj, key);
  if (v == nullptr || v->is_null() || !r.ok()) return std::nullopt;
  if (!allowed) {
    r.fail(field(path, key), kQuasarOnly);
    return std::nullopt;
  }
  return internal::readSelector(r, *v, field(path, key));
}

std::optional<conf::IpPrefix> readCidr(Reader& r, const json& obj, const char* key,
                                       const std::string& path) {
  const std::string text = r.str(obj, key, path, true);
  if (!r.ok()) return std::nullopt;
  auto p = conf::IpPrefix::parse(text);
  if (!p.ok()) {
    r.fail(field(path, key), "must be a CIDR");
    return std::nullopt;
  }
  return p->network();
}

IPBlock readIpBlock(Reader& r, const json& block, const std::string& path) {
  IPBlock out;
  if (!block.is_object()) {
    r.fail(path, "must be a mapping");
    return out;
  }
  if (auto c = readCidr(r, block, "cidr", path)) out.cidr = *c;
  const std::vector<std::string> except = r.stringList(block, "except", path);
  for (size_t i = 0; i < except.size() && r.ok(); ++i) {
    const std::string p = index(field(path, "except"), i);
    auto e = conf::IpPrefix::parse(except[i]);
    if (!e.ok()) {
      r.fail(p, "must be a CIDR");
    } else if (e->family() != out.cidr.family() || e->length() <= out.cidr.length() ||
               !out.cidr.contains(e->address())) {
      r.fail(p, absl::StrCat("must be strictly inside ", out.cidr.toString()));
    } else {
      out.except.push_back(e->network());
    }
  }
  return out;
}

NetworkPolicyPeer readPeer(Reader& r, const json& peer, const std::string& path, bool quasar) {
  NetworkPolicyPeer out;
  if (!peer.is_object()) {
    r.fail(path, "must be a mapping");
    return out;
  }
  out.pod_selector = optionalSelector(r, peer, "podSelector", path, true);
  out.namespace_selector = optionalSelector(r, peer, "namespaceSelector", path, true);
  out.node_selector = optionalSelector(r, peer, "nodeSelector", path, quasar);
  if (const json* block = member(peer, "ipBlock"); block != nullptr && !block->is_null()) {
    out.ip_block = readIpBlock(r, *block, field(path, "ipBlock"));
  }
  const bool selectors = out.pod_selector || out.namespace_selector || out.node_selector;
  if (r.ok() && !selectors && !out.ip_block) {
    r.fail(path, quasar ? "must name podSelector, namespaceSelector, nodeSelector or ipBlock"
                        : "must name podSelector, namespaceSelector or ipBlock");
  } else if (r.ok() && selectors && out.ip_block) {
    r.fail(path, "ipBlock cannot be combined with a selector");
  }
  return out;
}

NetworkPolicyPort readPort(Reader& r, const json& port, const std::string& path) {
  NetworkPolicyPort out;
  if (!port.is_object()) {
    r.fail(path, "must be a mapping");
    return out;
  }
  out.protocol = internal::readProtocol(r, port, path);
  const json* p = member(port, "port");
  if (p != nullptr && p->is_string()) {
    out.port_name = p->get<std::string>();
    if (!internal::isPortName(out.port_name)) {
      r.fail(path + ".port", "must be a port number in [1, 65535] or a port name");
    }
  } else if (p != nullptr && !p->is_null()) {
    const auto n = r.integer(port, "port", path);
    if (r.ok() && (!n || *n < 1 || *n > 65535)) {
      r.fail(path + ".port", "must be a port number in [1, 65535] or a port name");
    } else if (n) {
      out.port = static_cast<int32_t>(*n);
    }
  }
  const auto end = r.integer(port, "endPort", path);
  if (end && r.ok()) {
    if (!out.port) {
      r.fail(path + ".endPort", "needs a numeric port");
    } else if (*end < *out.port || *end > 65535) {
      r.fail(path + ".endPort", absl::StrCat("must be in [", *out.port, ", 65535]"));
    } else {
      out.end_port = static_cast<int32_t>(*end);
    }
  }
  return out;
}

std::vector<NetworkPolicyRule> readRules(Reader& r, const json& spec, const char* dir,
                                         const char* peers_key, bool quasar) {
  std::vector<NetworkPolicyRule> out;
  const json* rules = r.array(spec, dir, "spec");
  for (size_t i = 0; rules != nullptr && i < rules->size() && r.ok(); ++i) {
    const std::string p = index(field("spec", dir), i);
    const json& rule = (*rules)[i];
    if (!rule.is_object()) {
      r.fail(p, "must be a mapping");
      break;
    }
    NetworkPolicyRule nr;
    const json* peers = r.array(rule, peers_key, p);
    for (size_t k = 0; peers != nullptr && k < peers->size() && r.ok(); ++k) {
      nr.peers.push_back(readPeer(r, (*peers)[k], index(field(p, peers_key), k), quasar));
    }
    const json* ports = r.array(rule, "ports", p);
    for (size_t k = 0; ports != nullptr && k < ports->size() && r.ok(); ++k) {
      nr.ports.push_back(readPort(r, (*ports)[k], index(field(p, "ports"), k)));
    }
    out.push_back(std::move(nr));
  }
  return out;
}

NetworkPolicySpec readSpec(Reader& r, const json& j, bool quasar) {
  NetworkPolicySpec out;
  const json* spec = r.object(j, "spec", "", true);
  if (spec == nullptr) return out;
  if (const json* sel = r.object(*spec, "podSelector", "spec", true)) {
    out.pod_selector = internal::readSelector(r, *sel, "spec.podSelector");
  }
  out.node_selector = optionalSelector(r, *spec, "nodeSelector", "spec", quasar);
  const std::vector<std::string> types = r.stringList(*spec, "policyTypes", "spec");
  for (const auto& t : types) {
    const PolicyType pt = t == "Egress" ? PolicyType::kEgress : PolicyType::kIngress;
    if (t != "Ingress" && t != "Egress") {
      r.fail("spec.policyTypes", "entries must be Ingress or Egress");
    } else if (out.isolates(pt)) {
      r.fail("spec.policyTypes", "lists " + t + " twice");
    } else {
      out.policy_types.push_back(pt);
    }
  }
  out.ingress = readRules(r, *spec, "ingress", "from", quasar);
  out.egress = readRules(r, *spec, "egress", "to", quasar);
  if (types.empty()) {
    out.policy_types.push_back(PolicyType::kIngress);
    if (!out.egress.empty()) out.policy_types.push_back(PolicyType::kEgress);
  }
  return out;
}

}  // namespace

absl::StatusOr<NetworkPolicy> parseNetworkPolicy(const json& j) {
  Reader r(internal::refOf(j, kindName(Kind::kNetworkPolicy)));
  NetworkPolicy p;
  p.metadata = internal::readEnvelope(r, j, Kind::kNetworkPolicy);
  p.spec = readSpec(r, j, false);
  if (!r.ok()) return r.status();
  return p;
}

absl::StatusOr<QuasarNetworkPolicy> parseQuasarNetworkPolicy(const json& j) {
  Reader r(internal::refOf(j, kindName(Kind::kQuasarNetworkPolicy)));
  QuasarNetworkPolicy p;
  p.metadata = internal::readEnvelope(r, j, Kind::kQuasarNetworkPolicy);
  p.spec = readSpec(r, j, true);
  if (!r.ok()) return r.status();
  return p;
}

}  // namespace quasar::objects
