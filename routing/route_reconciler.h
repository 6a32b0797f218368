#pragma once
// Makes the main table's node routes (protocol kNodeRouteProtocol) exactly the planned ones:
// adds what is missing, replaces what differs, removes what is no longer planned. Routes of any
// other protocol (the plugin's pod routes, the administrator's, other programs') are never
// touched. Runs in the calling thread's network namespace. Idempotent.

#include <cstdint>
#include <set>
#include <vector>

#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "routing/netlink_socket.h"
#include "routing/route_planner.h"
#include "routing/rtnl.h"

namespace quasar::routing {

struct ReconcileResult {
  int added = 0;
  int removed = 0;
  int unchanged = 0;
  int skipped = 0;  // unreachable peers, or a device (tunl0, quasar.vxlan) that does not exist
};

absl::StatusOr<ReconcileResult> reconcileRoutes(const std::vector<PlannedRoute>& planned);

// The same for any one table and protocol, over `sock` (its namespace): makes the routes of
// `family` in `table` with `protocol` exactly `wanted` (each route's own table and protocol are
// taken from the arguments). Routes are keyed by destination; one whose destination is in `keep`
// is left as it is even when not wanted (its device cannot be resolved just now). `wanted` is
// applied in order, so a route comes after the one its gateway is reached by. Routes of other
// protocols or tables are never touched. Idempotent; the first kernel error is returned.
absl::StatusOr<ReconcileResult> reconcileTableRoutes(NetlinkSocket& sock, conf::Family family,
                                                     uint32_t table, uint8_t protocol,
                                                     const std::vector<Route>& wanted,
                                                     const std::set<conf::IpPrefix>& keep = {});

}  // namespace quasar::routing
