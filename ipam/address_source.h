#pragma once
// Where a node's addresses come from. The AddressManager keeps what every source shares: one
// record per attachment, idempotence, claims, the durable commit before ADD returns, and GC. A
// source only hands out addresses and takes them back:
//   - BlockSource: the node's pod-CIDR blocks (in memory; the node owns its blocks);
//   - the floating-IP source: underlay pools shared by the cluster (a compare-and-swap in the
//     cluster store decides who holds an address);
//   - next, ENI secondary addresses.
// The manager records the source's name in each Allocation and returns the allocation to it.
//
// Threading: implementations are thread-safe. The manager calls them outside its own lock, so a
// source may do I/O in take().

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "ipam/allocation.h"

namespace quasar::ipam {

class AddressSource {
 public:
  virtual ~AddressSource() = default;
  // The addresses for `request`: once returned they are the attachment's, and nobody else is
  // given them until untake() or released(). On failure nothing stays taken. Errors:
  // Unavailable (retry later), ResourceExhausted (none free), InvalidArgument/AlreadyExists (a
  // requested address is unusable or taken), FailedPrecondition (the source cannot serve this
  // request here, e.g. no pool serves the node).
  virtual absl::StatusOr<std::vector<conf::IpAddress>> take(const AllocateRequest& request,
                                                            int64_t now_ms) = 0;
  // The commit of `allocation` failed: its addresses were never handed out.
  virtual void untake(const Allocation& allocation) = 0;
  // The release of `allocation` is durable in the node's store. With `hold`, its addresses are
  // not handed out again before endHold() (their interface is still being removed).
  virtual void released(const Allocation& allocation, bool hold, int64_t now_ms) = 0;
  virtual void endHold(const std::vector<conf::IpAddress>& ips, int64_t now_ms) = 0;
  // Start-up: an allocation the node's store holds.
  virtual void restore(const Allocation& allocation) = 0;
};

}  // namespace quasar::ipam
