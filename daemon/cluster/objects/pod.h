#pragma once
// Kubernetes v1 Pod: the fields quasar reads (addresses by annotation, owners for floating IPs,
// labels, named ports and IPs for network policy). Pure values; thread-compatible.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "daemon/cluster/objects/meta.h"
#include "nlohmann/json.hpp"

namespace quasar::objects {

struct ContainerPort {
  std::string name;  // empty, or an IANA service name (what a policy's named port refers to)
  int32_t container_port = 0;  // [1, 65535]
  Protocol protocol = Protocol::kTcp;
  bool operator==(const ContainerPort&) const = default;
};

struct Container {
  std::string name;
  std::vector<ContainerPort> ports;
  bool operator==(const Container&) const = default;
};

struct Pod {
  ObjectMeta metadata;    // labels, annotations, ownerReferences
  std::string node_name;  // spec.nodeName; empty until scheduled
  bool host_network = false;
  std::vector<Container> containers;  // spec.containers, at least one
  // status.phase: Pending, Running, Succeeded, Failed, Unknown; empty when the object has no
  // status (as written by quasarctl apply). Not checked, so a future phase parses.
  std::string phase;
  // status.podIPs, or status.podIP when only that is set; empty until the pod has an address.
  std::vector<conf::IpAddress> pod_ips;

  // Succeeded or Failed: its containers are gone and its IPs may belong to another pod.
  bool terminated() const { return phase == "Succeeded" || phase == "Failed"; }
  // The containerPort of the first port named `name` with `protocol`; nullopt when none.
  std::optional<int32_t> namedPort(std::string_view name, Protocol protocol) const;
  bool operator==(const Pod&) const = default;
};

// InvalidArgument naming the object and the field; never throws.
absl::StatusOr<Pod> parsePod(const nlohmann::json& j);

}  // namespace quasar::objects
