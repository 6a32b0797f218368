#pragma once
// The node's pod-CIDR ranges (static pod CIDRs, or the cluster blocks the node owns) as an
// AddressSource: one address per family of its ranges, or the requested ones. Pure bookkeeping
// over RangeAllocators, with the cool-down and holds they keep. Thread-safe (one mutex).

#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "ipam/address_source.h"
#include "ipam/range_allocator.h"

namespace quasar::ipam {

struct PoolStats {
  conf::IpPrefix cidr;
  RangeStats stats;
};

class BlockSource final : public AddressSource {
 public:
  // `gate` is asked (under the source's lock: it must be quick) before any address is handed
  // out; its error is returned as is. Null: always allowed.
  BlockSource(const std::vector<conf::IpPrefix>& ranges, std::vector<conf::IpAddress> reserved,
              int64_t cooldown_ms, std::function<absl::Status()> gate);

  absl::StatusOr<std::vector<conf::IpAddress>> take(const AllocateRequest& request,
                                                    int64_t now_ms) override;
  void untake(const Allocation& allocation) override;
  void released(const Allocation& allocation, bool hold, int64_t now_ms) override;
  void endHold(const std::vector<conf::IpAddress>& ips, int64_t now_ms) override;
  void restore(const Allocation& allocation) override;
  // Start-up: a release still cooling down.
  void restoreRelease(const conf::IpAddress& ip, int64_t released_ms);

  // Adds a range; the addresses of `held` inside it are marked used (allocations that outlived
  // the range's removal), so they are not handed out twice.
  void addRange(const conf::IpPrefix& range, const std::vector<conf::IpAddress>& held);
  // Removes a range that holds no used, held or cooling address; FailedPrecondition otherwise,
  // NotFound when it is not one of the node's.
  absl::Status removeRangeIfIdle(const conf::IpPrefix& range, int64_t now_ms);
  // Removes a range whatever it holds; NotFound when it is not one of the node's.
  absl::Status dropRange(const conf::IpPrefix& range);
  std::vector<PoolStats> stats(int64_t now_ms);

 private:
  // Caller holds mu_.
  RangeAllocator* rangeFor(const conf::IpAddress& a);

  const std::vector<conf::IpAddress> reserved_;
  const int64_t cooldown_ms_;
  const std::function<absl::Status()> gate_;
  std::mutex mu_;
  std::vector<RangeAllocator> ranges_;
  // Releases restored at start outside every range: their cool-down still applies if the
  // range is added later.
  std::vector<std::pair<conf::IpAddress, int64_t>> outside_releases_;
};

}  // namespace quasar::ipam
