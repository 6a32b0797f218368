#pragma once
// The node's uplink: the interface its traffic to other nodes leaves by.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "conf/ip.h"

namespace quasar::routing {

struct Uplink {
  std::string name;
  int mtu = 0;
  std::vector<conf::IpPrefix> addresses;
};

// `name` empty: the interface of the main table's IPv4 default route. NotFound when there is
// none (a node without a default route must name its uplink).
absl::StatusOr<Uplink> findUplink(const std::string& name);

}  // namespace quasar::routing
