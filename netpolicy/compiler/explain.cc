#include "netpolicy/compiler/explain.h"

#include "absl/strings/str_cat.h"
#include "netpolicy/compiler/selector.h"

namespace quasar::netpolicy {
namespace {

const Pod* findPod(const Model& model, const std::string& ns, const std::string& name) {
  for (const auto& p : model.pods) {
    if (p.namespace_name == ns && p.name == name) return &p;
  }
  return nullptr;
}

bool peerMatches(const ModelIndex& index, const Policy& policy, const Peer& peer, const Pod& other,
                 conf::Family family) {
  if (peer.ip_block) {
    for (const auto& ip : other.ips) {
      if (ip.family() == family && inBlock(*peer.ip_block, ip)) return true;
    }
    return false;
  }
  return inGroup(index, other, peerGroup(policy, peer));
}

bool portMatches(const PortSpec& spec, const Pod& destination, int port, Protocol protocol) {
  if (spec.protocol != protocol) return false;
  if (!spec.port_name.empty()) {
    for (const auto& p : destination.ports) {
      if (p.name == spec.port_name && p.protocol == protocol && p.port == port) return true;
    }
    return false;
  }
  if (!spec.port) return true;
  return port >= *spec.port && port <= spec.end_port.value_or(*spec.port);
}

bool ruleAllows(const ModelIndex& index, const Policy& policy, const Rule& rule, const Pod& other,
                const Pod& destination, Direction direction, int port, Protocol protocol,
                conf::Family family) {
  bool ports_ok = rule.ports.empty();
  bool named_only = !rule.ports.empty();
  for (const auto& spec : rule.ports) {
    if (portMatches(spec, destination, port, protocol)) {
      ports_ok = true;
      if (spec.port_name.empty()) named_only = false;
    }
  }
  if (!ports_ok) return false;
  if (rule.peers.empty()) return true;
  for (const auto& peer : rule.peers) {
    // As compiled: an egress ipBlock peer has no container ports, so a named port never
    // matches through it. (In ingress the name is resolved on the target pod.)
    if (peer.ip_block && named_only && direction == Direction::kEgress) continue;
    if (peerMatches(index, policy, peer, other, family)) return true;
  }
  return false;
}

DirectionVerdict decide(const ModelIndex& index, const Pod& subject, const Pod& other,
                        const Pod& destination, Direction direction, int port, Protocol protocol,
                        conf::Family family) {
  DirectionVerdict v;
  const bool in = direction == Direction::kIngress;
  for (const auto& policy : index.model().policies) {
    if (!(in ? isolatesIngress(policy) : isolatesEgress(policy))) continue;
    if (!inGroup(index, subject, targetGroup(policy))) continue;
    v.isolated = true;
    v.isolating.push_back({policy.namespace_name, policy.name, -1, policy.kind});
    const auto& rules = in ? policy.ingress : policy.egress;
    for (size_t i = 0; i < rules.size(); ++i) {
      if (ruleAllows(index, policy, rules[i], other, destination, direction, port, protocol,
                     family)) {
        v.allowing.push_back(
            {policy.namespace_name, policy.name, static_cast<int>(i), policy.kind});
      }
    }
  }
  v.allowed = !v.isolated || !v.allowing.empty();
  return v;
}

}  // namespace

absl::StatusOr<Verdict> explain(const Model& model, const std::string& from_namespace,
                                const std::string& from_pod, const std::string& to_namespace,
                                const std::string& to_pod, int port, Protocol protocol,
                                conf::Family family) {
  const Pod* from = findPod(model, from_namespace, from_pod);
  const Pod* to = findPod(model, to_namespace, to_pod);
  if (from == nullptr || to == nullptr) {
    return absl::NotFoundError(absl::StrCat("no pod ",
                                            from == nullptr ? from_namespace : to_namespace, "/",
                                            from == nullptr ? from_pod : to_pod));
  }
  ModelIndex index(model);
  Verdict v;
  v.egress = decide(index, *from, *to, *to, Direction::kEgress, port, protocol, family);
  v.ingress = decide(index, *to, *from, *to, Direction::kIngress, port, protocol, family);
  v.allowed = v.egress.allowed && v.ingress.allowed;
  return v;
}

std::string policyLabel(const RuleRef& ref) {
  return absl::StrCat(ref.policy_kind.empty() ? "" : ref.policy_kind + ":", ref.policy_namespace,
                      "/", ref.policy_name);
}

std::string describe(const Verdict& verdict) {
  std::string out = absl::StrCat(verdict.allowed ? "allowed" : "denied", "\n");
  auto one = [&](const char* what, const DirectionVerdict& d) {
    if (!d.isolated) {
      absl::StrAppend(&out, what, ": not isolated\n");
      return;
    }
    absl::StrAppend(&out, what, ": isolated by");
    for (const auto& r : d.isolating) absl::StrAppend(&out, " ", policyLabel(r));
    absl::StrAppend(&out, d.allowed ? "; allowed by" : "; no rule allows it");
    for (const auto& r : d.allowing) {
      absl::StrAppend(&out, " ", policyLabel(r), "#", r.rule);
    }
    out += "\n";
  };
  one("egress", verdict.egress);
  one("ingress", verdict.ingress);
  return out;
}

}  // namespace quasar::netpolicy
