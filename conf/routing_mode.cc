#include "conf/routing_mode.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace quasar::conf {
namespace {

constexpr std::pair<absl::string_view, RoutingMode> kModes[] = {
    {"ipip-crosssubnet", RoutingMode::kIpipCrossSubnet},
    {"ipip-always", RoutingMode::kIpipAlways},
    {"host-gw", RoutingMode::kHostGw},
    {"vxlan-crosssubnet", RoutingMode::kVxlanCrossSubnet},
    {"vxlan-always", RoutingMode::kVxlanAlways},
};

}  // namespace

absl::StatusOr<RoutingMode> parseRoutingMode(absl::string_view text) {
  for (const auto& [name, mode] : kModes) {
    if (name == text) return mode;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "\"", text,
      "\" is not a routing mode (ipip-crosssubnet, ipip-always, host-gw, vxlan-crosssubnet, "
      "vxlan-always)"));
}

absl::string_view routingModeName(RoutingMode mode) {
  for (const auto& [name, m] : kModes) {
    if (m == mode) return name;
  }
  return "unknown";
}

Encapsulation encapsulationOf(RoutingMode mode) {
  switch (mode) {
    case RoutingMode::kIpipCrossSubnet:
    case RoutingMode::kIpipAlways:
      return Encapsulation::kIpip;
    case RoutingMode::kVxlanCrossSubnet:
    case RoutingMode::kVxlanAlways:
      return Encapsulation::kVxlan;
    case RoutingMode::kHostGw:
      return Encapsulation::kNone;
  }
  return Encapsulation::kNone;
}

bool alwaysEncapsulates(RoutingMode mode) {
  return mode == RoutingMode::kIpipAlways || mode == RoutingMode::kVxlanAlways;
}

int encapsulationOverhead(RoutingMode mode) {
  switch (encapsulationOf(mode)) {
    case Encapsulation::kIpip:
      return 20;
    case Encapsulation::kVxlan:
      return 50;
    case Encapsulation::kNone:
      return 0;
  }
  return 0;
}

}  // namespace quasar::conf
