#pragma once
// Kubernetes v1 Node and Namespace: the fields quasar reads. Pure values; thread-compatible.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "daemon/cluster/objects/meta.h"
#include "nlohmann/json.hpp"

namespace quasar::objects {

struct NodeAddress {
  std::string type;     // InternalIP, ExternalIP, Hostname, InternalDNS, ExternalDNS
  std::string address;  // an IP address for InternalIP and ExternalIP (checked)
  bool operator==(const NodeAddress&) const = default;
};

struct Node {
  ObjectMeta metadata;  // labels, e.g. nvidia.com/gpu.present=true; annotations
  // spec.podCIDRs (set by kube-controller-manager), or spec.podCIDR when only that is set.
  std::vector<conf::IpPrefix> pod_cidrs;
  std::vector<NodeAddress> addresses;  // status.addresses

  // The InternalIP addresses, in the order listed.
  std::vector<conf::IpAddress> internalIps() const;
  bool operator==(const Node&) const = default;
};

struct Namespace {
  ObjectMeta metadata;  // labels (kubernetes.io/metadata.name is set by the API server)
  bool operator==(const Namespace&) const = default;
};

// InvalidArgument naming the object and the field; never throws.
absl::StatusOr<Node> parseNode(const nlohmann::json& j);
absl::StatusOr<Namespace> parseNamespace(const nlohmann::json& j);

}  // namespace quasar::objects
