#pragma once
// quasard's side of floating IPs at the API (issue 13): which source a pod's ADD takes from (by
// its annotations, floating_choice.h, and its workload), how the plugin wires a floating address
// (Allocation.underlay: the node's device on the pool's subnet, created for a VLAN), and the
// node-side cleanup once an address is released (its proxy ARP entry or macvlan leg route).
//
// Thread-safe: called from the API's threads; the source and the kernel calls are.

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/api/floating_choice.h"
#include "daemon/api/quasard.pb.h"
#include "daemon/cluster/objects/pod.h"
#include "ipam/allocation.h"
#include "ipam/floating/floating_source.h"

namespace quasar::daemon {

class FloatingIps {
 public:
  // The workload a pod's address is kept for (its controller chain); a pod without a
  // controller, or one nobody knows, is its own workload. `known`: the pod as the ADD's lookup
  // found it (may be newer than the view), or null.
  using WorkloadResolver = std::function<ipam::floating::WorkloadRef(
      const ipam::PodRef& pod, const objects::Pod* known)>;

  // `source` must outlive this. `uplink`: the node's interface on the physical network.
  FloatingIps(ipam::floating::FloatingSource& source, std::string uplink, WorkloadResolver resolve);

  // Whether any FloatingIPPool exists (whatever nodes it serves): an ADD whose pod's annotations
  // cannot be read must then not guess the pod-CIDR source.
  bool hasPools() const;
  // Whether the pools are known yet; unset: always. Until then a floating or requested
  // address is answered Unavailable. Set before the first choose().
  void setPoolsReady(std::function<bool()> ready) { pools_ready_ = std::move(ready); }
  absl::StatusOr<AddressChoice> choose(const std::map<std::string, std::string>& annotations,
                                       const std::vector<conf::IpAddress>& requested_ips,
                                       const ipam::PodRef& pod,
                                       const objects::Pod* known = nullptr) const;
  // For a floating allocation: the device and mode the plugin wires it with. FailedPrecondition
  // when its pool is gone or its VLAN device cannot be made.
  absl::Status describe(const ipam::Allocation& a, quasar::api::v1::Underlay* out) const;
  // After a floating allocation's release: removes the node's proxy ARP entry (veth mode) or
  // leg route (macvlan mode). Returns the mode ("" when `a` was not floating). Failures are
  // logged: the address is released either way.
  std::string released(const ipam::Allocation& a) const;
  // Removes what a crash or a missed DEL left on the node: quasar's proxy ARP entries (on any
  // device) and macvlan leg routes for addresses of a known pool that `mine` (the addresses
  // leased to this node's pods) does not hold. After a move, the old node must not answer ARP
  // for an address that lives elsewhere now. An address of no known pool is left alone (pools
  // not loaded yet, or an operator's entry). Returns how many entries it removed.
  absl::StatusOr<int> removeStaleUnderlay(
      const std::function<absl::StatusOr<std::set<conf::IpAddress>>()>& mine) const;

 private:
  ipam::floating::FloatingSource& source_;
  const std::string uplink_;
  WorkloadResolver resolve_;
  std::function<bool()> pools_ready_;
};

}  // namespace quasar::daemon
