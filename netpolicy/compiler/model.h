#pragma once
// The NetworkPolicy compiler's input: plain values describing pods, namespaces, nodes and
// policies (networking.k8s.io/v1 NetworkPolicy and quasar.io/v1 NetworkPolicy, which adds node
// selectors). daemon/ adapts its object view to this model; netpolicy/ knows nothing of where
// the values come from. Strings here are user input: they are matched and hashed, never copied
// into iptables or ipset input. Value types; thread-compatible.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "conf/ip.h"

namespace quasar::netpolicy {

using Labels = std::map<std::string, std::string>;

enum class Protocol { kTcp, kUdp, kSctp };

enum class SelectorOp { kIn, kNotIn, kExists, kDoesNotExist };

struct SelectorRequirement {
  std::string key;
  SelectorOp op = SelectorOp::kExists;
  std::vector<std::string> values;  // In/NotIn only
};

// metav1.LabelSelector. Default-constructed = the empty selector, which matches everything.
struct LabelSelector {
  Labels match_labels;
  std::vector<SelectorRequirement> match_expressions;
};

// A container port with a name, as the destination pod declares it.
struct NamedPort {
  std::string name;
  int port = 0;
  Protocol protocol = Protocol::kTcp;
  bool operator==(const NamedPort&) const = default;
};

struct Pod {
  std::string namespace_name;
  std::string name;
  std::vector<conf::IpAddress> ips;
  Labels labels;
  std::string node;
  std::vector<NamedPort> ports;
  bool operator==(const Pod&) const = default;
};

struct Namespace {
  std::string name;
  Labels labels;
};

struct Node {
  std::string name;
  Labels labels;
  // The node's own addresses: traffic from them to the node's pods always passes (kubelet
  // probes).
  std::vector<conf::IpAddress> ips;
};

struct IpBlock {
  conf::IpPrefix cidr;
  std::vector<conf::IpPrefix> except;
};

// NetworkPolicyPeer. Either ip_block or any of the selectors. A missing namespace_selector means
// the policy's own namespace (also when only node_selector is given); the present selectors are
// ANDed. node_selector is quasar's: pods on nodes whose labels match.
struct Peer {
  std::optional<LabelSelector> pod_selector;
  std::optional<LabelSelector> namespace_selector;
  std::optional<LabelSelector> node_selector;
  std::optional<IpBlock> ip_block;
};

// NetworkPolicyPort. No port: every port of the protocol. port_name: a named container port of
// the destination pod (end_port must be empty then). end_port: the range port..end_port.
struct PortSpec {
  Protocol protocol = Protocol::kTcp;
  std::optional<int> port;
  std::string port_name;
  std::optional<int> end_port;
};

// One ingress or egress rule. Empty peers: every peer. Empty ports: every port.
struct Rule {
  std::vector<Peer> peers;
  std::vector<PortSpec> ports;
};

enum class Direction { kIngress, kEgress };

inline constexpr char kQuasarPolicyKind[] = "quasar.io";

struct Policy {
  std::string namespace_name;
  std::string name;
  // "" for networking.k8s.io/v1; kQuasarPolicyKind for quasar.io/v1 (the two kinds may each
  // have a policy of the same name in a namespace).
  std::string kind;
  LabelSelector pod_selector;
  // quasar's spec.nodeSelector: only pods on nodes whose labels match are targets.
  std::optional<LabelSelector> node_selector;
  // Empty: Kubernetes' default (Ingress, plus Egress when there are egress rules).
  std::vector<Direction> policy_types;
  std::vector<Rule> ingress;
  std::vector<Rule> egress;
};

struct Model {
  std::vector<Namespace> namespaces;
  std::vector<Node> nodes;
  std::vector<Pod> pods;
  std::vector<Policy> policies;
};

}  // namespace quasar::netpolicy
