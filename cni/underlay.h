#pragma once
// The node-side wiring of floating-IP addresses (quasar.io/v1 FloatingIPPool), which the plugin
// does after quasard has claimed the address (Allocation.underlay says how):
//   veth mode: the veth and its /32 route as for every pod, then proxy ARP for the address only
//     on the underlay device, and a gratuitous ARP from it, so hosts on the physical subnet
//     reach the pod directly and learn its new place at once after a move;
//   macvlan mode: the pod's interface is a macvlan of the underlay device with the pool's prefix
//     and gateway, and the node reaches it through its own macvlan leg (routing/macvlan.h).
// quasard removes the proxy entry and the leg route on release (its DEL side).

#include "absl/status/statusor.h"
#include "cni/commands.h"
#include "cni/result.h"
#include "conf/ip.h"
#include "daemon/api/quasard.pb.h"

namespace quasar::cni {

inline constexpr char kFloatingSource[] = "floating";

bool isMacvlan(const quasar::api::v1::Allocation& a);

// veth mode, once the pod's veth and /32 route exist (the kernel proxies only then): the pod's
// MAC as a permanent neighbour of `ip` on the host veth `host_ifname` (no ARP on a veth that may
// not pass traffic yet), then proxy ARP on the underlay device and a gratuitous ARP.
absl::Status announceFloating(const quasar::api::v1::Underlay& u, const conf::IpAddress& ip,
                              const std::string& host_ifname, const conf::Mac& pod_mac);

// macvlan mode: the pod's macvlan with `ip` (the pool's prefix) and its default route via the
// pool's gateway, and the node's leg route to it. On failure nothing of it stays. The result
// describes the pod's interface.
absl::StatusOr<Result> addMacvlanPod(const Invocation& inv, const quasar::api::v1::Underlay& u,
                                     const conf::IpAddress& ip, const conf::Mac& mac, int mtu);
// Removes the pod's macvlan from its namespace (when it still exists); idempotent.
absl::Status removeMacvlanPod(const Invocation& inv);

}  // namespace quasar::cni
