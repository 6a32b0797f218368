#pragma once
// The node's side of an attached ENI (eni_routing.h): its link, found by MAC, set up with its
// primary address and a route table of its own; and the reverse when it is detached. Over an
// rtnetlink socket, in that socket's namespace (quasard's; nothing here writes /proc, so no
// other namespace is touched). Not thread-safe per socket; idempotent: a repeated call converges
// on the same state, so the routing agent can run it on every pass.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conf/net_conf.h"
#include "routing/eni_routing.h"
#include "routing/netlink_socket.h"
#include "routing/route_reconciler.h"
#include "routing/rtnl.h"

namespace quasar::routing {

// The link with `mac`. Upper devices that share a MAC with their lower one (vlan, macvlan,
// ipvlan, bridge, bond, team) are not candidates. NotFound when there is none (the ENI's device
// has not appeared yet after the attach: retry), FailedPrecondition when several links carry it.
absl::StatusOr<LinkInfo> findLinkByMac(NetlinkSocket& sock, const conf::Mac& mac);

struct EniLink {
  int ifindex = 0;
  std::string name;
  uint32_t table = 0;
  ReconcileResult routes;  // what the table's reconciliation did
};

// Configures the secondary ENI `eni` (device index > 0; InvalidArgument otherwise):
//   - its link (by MAC) gets the MTU (when set), rp_filter (when set) and goes up;
//   - its IPv4 addresses become exactly the primary one with the subnet's length, added without
//     a prefix route (IFA_F_NOPREFIXROUTE); a main-table route to the subnet through the ENI
//     (the kernel's, from an address added before, e.g. by the image's DHCP client) is removed;
//   - its table (eniTable) holds exactly planEniTableRoutes, protocol kNodeRouteProtocol
//     (reconcileTableRoutes: a deleted or changed route is put back).
// The policy rules are the rule reconciler's (planEniRules). Errors from the first step that
// failed; NotFound while the link does not exist.
absl::StatusOr<EniLink> setUpEni(NetlinkSocket& sock, const EniSpec& eni);

// Undoes setUpEni for a detached (or detaching) ENI: empties its table (quasar's routes in it)
// and, when its link is still there, removes its primary address. A link that is gone is not an
// error (the kernel took its address and routes with it). The link itself is left to the cloud.
absl::Status tearDownEni(NetlinkSocket& sock, const EniSpec& eni);

}  // namespace quasar::routing
