#pragma once
// The VXLAN overlay (flannel's scheme): one device, quasar.vxlan (VNI 4096, UDP 4789, no
// learning), whose address is the network address of the node's lowest block (never handed to
// a pod) and whose MAC derives from the node's underlay address, so peers need nothing but the
// cluster view: for each peer reached over VXLAN, a permanent neighbour entry (its VTEP address
// -> its VTEP MAC) and an FDB entry (its VTEP MAC -> its underlay address).

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "conf/ip.h"
#include "conf/net_conf.h"

namespace quasar::routing {

inline constexpr uint32_t kVxlanVni = 4096;
inline constexpr uint16_t kVxlanPort = 4789;

conf::Mac vtepMacFor(const conf::IpAddress& node_ip);

struct VxlanPeer {
  conf::IpAddress vtep;     // the peer's VTEP address (its lowest block's network address)
  conf::IpAddress node_ip;  // its underlay address
};

// Creates (or fixes) the device on `uplink` with `local` as the underlay source, `vtep` as its
// address and `mtu`, and brings it up. Idempotent.
absl::Status ensureVxlanDevice(const std::string& uplink, const conf::IpAddress& local,
                               const conf::IpAddress& vtep, int mtu);
// Programs the neighbour and FDB entries for `peers` (replacing what differs) and removes those
// of anyone else (a node that left). Idempotent.
absl::Status syncVxlanPeers(const std::vector<VxlanPeer>& peers);
// Removes the device (and with it its neighbour and FDB entries) when the routing mode no longer
// uses VXLAN. Succeeds when there is none.
absl::Status removeVxlanDevice();

}  // namespace quasar::routing
