#pragma once
// quasard's configuration file (YAML), parsed and validated. See conf/quasard.yaml for the
// commented reference.

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "conf/ip.h"
#include "conf/net_conf.h"

namespace quasar::conf {

// How packets reach other nodes' pods. Issue 3 only uses it for the pod MTU; routing/ acts on it.
enum class RoutingMode { kIpipCrossSubnet, kIpipAlways, kHostGw, kVxlanCrossSubnet, kVxlanAlways };

absl::StatusOr<RoutingMode> parseRoutingMode(absl::string_view text);
absl::string_view routingModeName(RoutingMode mode);
// Bytes the mode's encapsulation adds to a packet (IPIP 20, VXLAN 50, host-gw 0). The
// cross-subnet modes count the encapsulated path, so one pod MTU fits every path.
int encapsulationOverhead(RoutingMode mode);

struct DaemonConfig {
  // Defaults to the host name.
  std::string node_name;
  // gRPC API (quasarctl and tools).
  std::string socket = kDefaultSocket;
  // The CNI plugin's transport (see ipam/ipam.proto, PluginRequest).
  std::string cni_socket = kDefaultCniSocket;
  std::string state_dir = "/var/lib/quasar";
  // The node's pod CIDRs. IPv4 only for now; the allocator itself is family-agnostic.
  std::vector<IpPrefix> pod_cidrs;
  // Addresses inside the pod CIDRs that are never handed out.
  std::vector<IpAddress> reserved;
  // How long a released IP rests before it is handed out again.
  std::chrono::milliseconds release_cooldown{std::chrono::seconds(30)};
  // The node's uplink interface; empty means the interface of the default route.
  std::string uplink;
  RoutingMode routing_mode = RoutingMode::kIpipCrossSubnet;
  // Pod MTU; 0 means the uplink's MTU minus the routing mode's overhead.
  int mtu = 0;
  std::string log_level = "info";
};

// Parses YAML text. Errors are InvalidArgument and name the field.
absl::StatusOr<DaemonConfig> parseDaemonConfig(absl::string_view yaml);
absl::StatusOr<DaemonConfig> loadDaemonConfig(const std::string& path);

}  // namespace quasar::conf
