#pragma once
// NetworkPolicy: Kubernetes' networking.k8s.io/v1 and quasar's quasar.io/v1, one schema. Quasar's
// adds node selectors: in a peer (pods running on nodes whose labels match) and in the spec (the
// target pods are those whose node's labels match, as well as podSelector). Both are
// LabelSelectors (matchLabels, matchExpressions), like podSelector. Kubernetes' kind refuses
// them. Pure values; thread-compatible.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "daemon/cluster/objects/meta.h"
#include "nlohmann/json.hpp"

namespace quasar::objects {

enum class PolicyType { kIngress, kEgress };

struct IPBlock {
  conf::IpPrefix cidr;                 // host bits cleared
  std::vector<conf::IpPrefix> except;  // each strictly inside cidr, host bits cleared
  bool operator==(const IPBlock&) const = default;
};

// One from/to entry. Either ip_block alone, or one or more selectors (all must match). An
// absent selector is distinct from an empty one: a peer with only namespace_selector {} means
// every pod in every namespace; with only pod_selector {}, every pod in the policy's namespace.
struct NetworkPolicyPeer {
  std::optional<LabelSelector> pod_selector;
  std::optional<LabelSelector> namespace_selector;
  std::optional<LabelSelector> node_selector;  // quasar.io/v1 only
  std::optional<IPBlock> ip_block;
  bool operator==(const NetworkPolicyPeer&) const = default;
};

struct NetworkPolicyPort {
  Protocol protocol = Protocol::kTcp;
  // At most one of port and port_name; neither: every port of the protocol.
  std::optional<int32_t> port;      // [1, 65535]
  std::string port_name;            // a container port's name, resolved per destination pod
  std::optional<int32_t> end_port;  // only with port: the range [port, end_port]
  bool operator==(const NetworkPolicyPort&) const = default;
};

// One ingress (from) or egress (to) rule. No peers: every source/destination; no ports: every
// port. Traffic must match a peer and a port.
struct NetworkPolicyRule {
  std::vector<NetworkPolicyPeer> peers;
  std::vector<NetworkPolicyPort> ports;
  bool operator==(const NetworkPolicyRule&) const = default;
};

struct NetworkPolicySpec {
  LabelSelector pod_selector;                  // {} selects every pod of the namespace
  std::optional<LabelSelector> node_selector;  // quasar.io/v1 only: spec.nodeSelector
  // Defaulted as the API server does when absent: Ingress, plus Egress when egress rules exist.
  std::vector<PolicyType> policy_types;
  std::vector<NetworkPolicyRule> ingress;
  std::vector<NetworkPolicyRule> egress;

  bool isolates(PolicyType t) const;  // policy_types holds t
  bool operator==(const NetworkPolicySpec&) const = default;
};

// networking.k8s.io/v1
struct NetworkPolicy {
  ObjectMeta metadata;
  NetworkPolicySpec spec;
  bool operator==(const NetworkPolicy&) const = default;
};

// quasar.io/v1
struct QuasarNetworkPolicy {
  ObjectMeta metadata;
  NetworkPolicySpec spec;
  bool operator==(const QuasarNetworkPolicy&) const = default;
};

// InvalidArgument naming the object and the field; never throws.
absl::StatusOr<NetworkPolicy> parseNetworkPolicy(const nlohmann::json& j);
absl::StatusOr<QuasarNetworkPolicy> parseQuasarNetworkPolicy(const nlohmann::json& j);

}  // namespace quasar::objects
