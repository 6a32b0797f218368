#pragma once
// How packets reach other nodes' pods (quasard's routingMode).

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quasar::conf {

// How packets reach other nodes' pods. Issue 3 only uses it for the pod MTU; routing/ acts on it.
enum class RoutingMode { kIpipCrossSubnet, kIpipAlways, kHostGw, kVxlanCrossSubnet, kVxlanAlways };

// The tunnel a mode uses for what it encapsulates (host-gw: none).
enum class Encapsulation { kNone, kIpip, kVxlan };
Encapsulation encapsulationOf(RoutingMode mode);
// Whether the mode encapsulates even between nodes on one subnet (ipip-always, vxlan-always).
bool alwaysEncapsulates(RoutingMode mode);

absl::StatusOr<RoutingMode> parseRoutingMode(absl::string_view text);
absl::string_view routingModeName(RoutingMode mode);
// Bytes the mode's encapsulation adds to a packet (IPIP 20, VXLAN 50, host-gw 0). The
// cross-subnet modes count the encapsulated path, so one pod MTU fits every path.
int encapsulationOverhead(RoutingMode mode);

}  // namespace quasar::conf
