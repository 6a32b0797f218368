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

int encapsulationOverhead(RoutingMode mode) {
  switch (mode) {
    case RoutingMode::kIpipCrossSubnet:
    case RoutingMode::kIpipAlways:
      return 20;
    case RoutingMode::kVxlanCrossSubnet:
    case RoutingMode::kVxlanAlways:
      return 50;
    case RoutingMode::kHostGw:
      return 0;
  }
  return 0;
}

}  // namespace quasar::conf
