#pragma once
// Hands out addresses of one prefix. Pure bookkeeping: no I/O and no clock (callers pass the
// time), so it is tested exhaustively without a kernel or a store. Not thread-safe; the owner
// (AddressManager) serialises calls.

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"
#include "conf/ip.h"

namespace quasar::ipam {

struct RangeStats {
  absl::uint128 capacity = 0;  // addresses that can ever be handed out
  uint64_t used = 0;
  uint64_t cooling = 0;
};

class RangeAllocator {
 public:
  // The network and (IPv4) broadcast address and every address in `reserved` are never handed
  // out. A released address rests for `cooldown_ms` before it is handed out again, so a late
  // packet for the old pod never reaches a new one.
  RangeAllocator(const conf::IpPrefix& range, const std::vector<conf::IpAddress>& reserved,
                 int64_t cooldown_ms);

  const conf::IpPrefix& range() const { return range_; }
  bool contains(const conf::IpAddress& a) const { return range_.contains(a); }

  // Marks the next free address used, round-robin after the last one handed out.
  // ResourceExhausted when every address is used; Unavailable when the only free ones are still
  // cooling down (a retry later will succeed).
  absl::StatusOr<conf::IpAddress> allocateNext(int64_t now_ms);
  // Marks a specific address used. InvalidArgument outside the range or reserved,
  // AlreadyExists when used, Unavailable while cooling down.
  absl::Status allocate(const conf::IpAddress& a, int64_t now_ms);
  // Used -> cooling down since `released_ms`. Unknown addresses are ignored.
  void release(const conf::IpAddress& a, int64_t released_ms);
  // Used -> held: not handed out until endHold(), then cooling down from that moment. For an
  // address whose interface is still being torn down.
  void releaseHeld(const conf::IpAddress& a);
  void endHold(const conf::IpAddress& a, int64_t now_ms);
  // Used -> free at once: for an address that was never handed out (its commit failed).
  void unallocate(const conf::IpAddress& a);
  // Restores state at start-up: a used address, or a release still cooling down.
  void restoreUsed(const conf::IpAddress& a);
  void restoreRelease(const conf::IpAddress& a, int64_t released_ms);

  bool isUsed(const conf::IpAddress& a) const;
  RangeStats stats(int64_t now_ms);

 private:
  void pruneCooling(int64_t now_ms);
  bool excluded(absl::uint128 offset) const;

  conf::IpPrefix range_;
  absl::uint128 first_ = 0;           // first usable offset
  absl::uint128 last_ = 0;            // last usable offset
  std::set<absl::uint128> reserved_;  // offsets inside [first_, last_]
  std::set<absl::uint128> used_;
  std::map<absl::uint128, int64_t> cooling_;  // offset -> released at
  absl::uint128 cursor_ = 0;                  // last offset handed out
  int64_t cooldown_ms_;
  std::set<absl::uint128> held_;
};

}  // namespace quasar::ipam
