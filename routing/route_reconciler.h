#pragma once
// Makes the main table's node routes (protocol kNodeRouteProtocol) exactly the planned ones:
// adds what is missing, replaces what differs, removes what is no longer planned. Routes of any
// other protocol (the plugin's pod routes, the administrator's, other programs') are never
// touched. Runs in the calling thread's network namespace. Idempotent.

#include <vector>

#include "absl/status/statusor.h"
#include "routing/route_planner.h"

namespace quasar::routing {

struct ReconcileResult {
  int added = 0;
  int removed = 0;
  int unchanged = 0;
  int skipped = 0;  // unreachable peers, or a device (tunl0, quasar.vxlan) that does not exist
};

absl::StatusOr<ReconcileResult> reconcileRoutes(const std::vector<PlannedRoute>& planned);

}  // namespace quasar::routing
