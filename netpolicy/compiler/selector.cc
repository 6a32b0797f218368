#include "netpolicy/compiler/selector.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"

namespace quasar::netpolicy {
namespace {

bool requirementMatches(const SelectorRequirement& r, const Labels& labels) {
  auto it = labels.find(r.key);
  bool has = it != labels.end();
  auto value_in = [&] {
    return has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
  };
  switch (r.op) {
    case SelectorOp::kIn:
      return value_in();
    case SelectorOp::kNotIn:
      return !value_in();
    case SelectorOp::kExists:
      return has;
    case SelectorOp::kDoesNotExist:
      return !has;
  }
  return false;
}

// Length-prefixed, so no user string can forge a separator.
void appendField(std::string* out, const std::string& s) { absl::StrAppend(out, s.size(), ":", s); }

}  // namespace

bool matches(const LabelSelector& selector, const Labels& labels) {
  for (const auto& [k, v] : selector.match_labels) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  for (const auto& r : selector.match_expressions) {
    if (!requirementMatches(r, labels)) return false;
  }
  return true;
}

PodGroup targetGroup(const Policy& policy) {
  return PodGroup{policy.namespace_name, std::nullopt, policy.pod_selector, policy.node_selector};
}

PodGroup peerGroup(const Policy& policy, const Peer& peer) {
  PodGroup g;
  g.namespace_name = policy.namespace_name;
  g.namespace_selector = peer.namespace_selector;
  if (peer.pod_selector) g.pod_selector = *peer.pod_selector;
  g.node_selector = peer.node_selector;
  return g;
}

std::string canonical(const LabelSelector& selector) {
  // key, op, sorted values; matchLabels become In [value].
  std::set<std::tuple<std::string, int, std::vector<std::string>>> reqs;
  for (const auto& [k, v] : selector.match_labels) {
    reqs.insert({k, static_cast<int>(SelectorOp::kIn), {v}});
  }
  for (const auto& r : selector.match_expressions) {
    std::vector<std::string> values;
    if (r.op == SelectorOp::kIn || r.op == SelectorOp::kNotIn) {
      std::set<std::string> unique(r.values.begin(), r.values.end());
      values.assign(unique.begin(), unique.end());
    }
    reqs.insert({r.key, static_cast<int>(r.op), std::move(values)});
  }
  std::string out = absl::StrCat("sel", reqs.size(), "{");
  for (const auto& [key, op, values] : reqs) {
    appendField(&out, key);
    absl::StrAppend(&out, "op", op, "n", values.size(), "[");
    for (const auto& v : values) appendField(&out, v);
    out += "]";
  }
  out += "}";
  return out;
}

std::string canonical(const PodGroup& group) {
  std::string out = "pods(";
  if (group.namespace_selector) {
    absl::StrAppend(&out, "nssel=", canonical(*group.namespace_selector));
  } else {
    out += "ns=";
    appendField(&out, group.namespace_name);
  }
  absl::StrAppend(&out, ",pod=", canonical(group.pod_selector));
  if (group.node_selector) absl::StrAppend(&out, ",node=", canonical(*group.node_selector));
  out += ")";
  return out;
}

std::string canonical(const IpBlock& block) {
  std::set<conf::IpPrefix> except;
  for (const auto& e : block.except) except.insert(e.network());
  std::string out = absl::StrCat("net(", block.cidr.network().toString(), " except");
  for (const auto& e : except) absl::StrAppend(&out, " ", e.toString());
  out += ")";
  return out;
}

ModelIndex::ModelIndex(const Model& model) : model_(model) {
  for (const auto& ns : model.namespaces) namespaces_.emplace(ns.name, &ns);
  for (const auto& n : model.nodes) nodes_.emplace(n.name, &n);
}

const Labels& ModelIndex::namespaceLabels(const std::string& name) const {
  auto it = namespaces_.find(name);
  return it == namespaces_.end() ? empty_ : it->second->labels;
}

const Labels& ModelIndex::nodeLabels(const std::string& name) const {
  const Node* n = node(name);
  return n == nullptr ? empty_ : n->labels;
}

const Node* ModelIndex::node(const std::string& name) const {
  auto it = nodes_.find(name);
  return it == nodes_.end() ? nullptr : it->second;
}

bool inGroup(const ModelIndex& index, const Pod& pod, const PodGroup& group) {
  if (group.namespace_selector) {
    if (!matches(*group.namespace_selector, index.namespaceLabels(pod.namespace_name))) {
      return false;
    }
  } else if (pod.namespace_name != group.namespace_name) {
    return false;
  }
  if (!matches(group.pod_selector, pod.labels)) return false;
  if (group.node_selector && !matches(*group.node_selector, index.nodeLabels(pod.node))) {
    return false;
  }
  return true;
}

bool inBlock(const IpBlock& block, const conf::IpAddress& address) {
  if (block.cidr.family() != address.family() || !block.cidr.contains(address)) return false;
  for (const auto& e : block.except) {
    if (e.family() == address.family() && e.contains(address)) return false;
  }
  return true;
}

bool isolatesIngress(const Policy& policy) {
  if (policy.policy_types.empty()) return true;
  return std::find(policy.policy_types.begin(), policy.policy_types.end(), Direction::kIngress) !=
         policy.policy_types.end();
}

bool isolatesEgress(const Policy& policy) {
  if (policy.policy_types.empty()) return !policy.egress.empty();
  return std::find(policy.policy_types.begin(), policy.policy_types.end(), Direction::kEgress) !=
         policy.policy_types.end();
}

}  // namespace quasar::netpolicy
