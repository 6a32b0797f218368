#include "ipam/range_allocator.h"

#include "absl/strings/str_cat.h"

namespace quasar::ipam {

RangeAllocator::RangeAllocator(const conf::IpPrefix& range,
                               const std::vector<conf::IpAddress>& reserved, int64_t cooldown_ms)
    : range_(range.network()), cooldown_ms_(cooldown_ms) {
  const absl::uint128 size = range_.size();
  // IPv4 subnets lose their network and broadcast address; /31 and /32 (RFC 3021) and IPv6 keep
  // all but the subnet-router anycast address (offset 0).
  const bool v4_subnet = range_.family() == conf::Family::kV4 && range_.length() <= 30;
  first_ = (v4_subnet || range_.family() == conf::Family::kV6) ? 1 : 0;
  last_ = v4_subnet ? size - 2 : size - 1;
  for (const auto& a : reserved) {
    if (!range_.contains(a)) continue;
    const auto off = range_.offsetOf(a);
    if (off >= first_ && off <= last_) reserved_.insert(off);
  }
  cursor_ = last_;  // so the first address handed out is the first usable one
}

bool RangeAllocator::excluded(absl::uint128 offset) const {
  return offset < first_ || offset > last_ || reserved_.contains(offset);
}

void RangeAllocator::pruneCooling(int64_t now_ms) {
  for (auto it = cooling_.begin(); it != cooling_.end();) {
    it = (now_ms - it->second >= cooldown_ms_) ? cooling_.erase(it) : std::next(it);
  }
}

absl::StatusOr<conf::IpAddress> RangeAllocator::allocateNext(int64_t now_ms) {
  pruneCooling(now_ms);
  const absl::uint128 capacity = last_ - first_ + 1 - reserved_.size();
  if (used_.size() >= capacity) {
    return absl::ResourceExhaustedError(
        absl::StrCat("pod CIDR ", range_.toString(), " is exhausted: all ",
                     absl::Uint128Low64(capacity), " addresses are in use"));
  }
  if (used_.size() + held_.size() >= capacity) {
    return absl::UnavailableError(
        absl::StrCat("pod CIDR ", range_.toString(),
                     ": every free address is held while its old interface ", "is torn down"));
  }
  if (used_.size() + held_.size() + cooling_.size() >= capacity) {
    int64_t soonest = cooldown_ms_;
    for (const auto& [off, at] : cooling_)
      soonest = std::min(soonest, cooldown_ms_ - (now_ms - at));
    return absl::UnavailableError(absl::StrCat(
        "pod CIDR ", range_.toString(), ": every free address is cooling down after release; ",
        "the next is free in ", soonest, " ms"));
  }
  // At most used + cooling + reserved occupied offsets stand in the way, so a free one is found
  // within that many steps plus one: the scan is bounded even for an IPv6 /64.
  absl::uint128 off = cursor_;
  const uint64_t bound = used_.size() + held_.size() + cooling_.size() + reserved_.size() + 1;
  for (uint64_t step = 0; step <= bound; ++step) {
    off = (off >= last_) ? first_ : off + 1;
    if (excluded(off) || used_.contains(off) || held_.contains(off) || cooling_.contains(off)) {
      continue;
    }
    used_.insert(off);
    cursor_ = off;
    return range_.at(off);
  }
  return absl::InternalError("range allocator: no free address found although one must exist");
}

absl::Status RangeAllocator::allocate(const conf::IpAddress& a, int64_t now_ms) {
  if (!range_.contains(a)) {
    return absl::InvalidArgumentError(
        absl::StrCat(a.toString(), " is outside the node's pod CIDR ", range_.toString()));
  }
  const auto off = range_.offsetOf(a);
  if (excluded(off)) {
    return absl::InvalidArgumentError(
        absl::StrCat(a.toString(), " is reserved in pod CIDR ", range_.toString()));
  }
  if (used_.contains(off)) {
    return absl::AlreadyExistsError(absl::StrCat(a.toString(), " is already in use"));
  }
  if (held_.contains(off)) {
    return absl::UnavailableError(
        absl::StrCat(a.toString(), " is free once its old interface is removed; retry"));
  }
  pruneCooling(now_ms);
  if (auto it = cooling_.find(off); it != cooling_.end()) {
    return absl::UnavailableError(absl::StrCat(a.toString(),
                                               " was released recently and is free in ",
                                               cooldown_ms_ - (now_ms - it->second), " ms"));
  }
  used_.insert(off);
  return absl::OkStatus();
}

void RangeAllocator::release(const conf::IpAddress& a, int64_t released_ms) {
  if (!range_.contains(a)) return;
  const auto off = range_.offsetOf(a);
  if (used_.erase(off) > 0 && cooldown_ms_ > 0) cooling_[off] = released_ms;
}

void RangeAllocator::releaseHeld(const conf::IpAddress& a) {
  if (!range_.contains(a)) return;
  const auto off = range_.offsetOf(a);
  if (used_.erase(off) > 0) held_.insert(off);
}

void RangeAllocator::endHold(const conf::IpAddress& a, int64_t now_ms) {
  if (!range_.contains(a)) return;
  const auto off = range_.offsetOf(a);
  if (held_.erase(off) > 0 && cooldown_ms_ > 0) cooling_[off] = now_ms;
}

void RangeAllocator::unallocate(const conf::IpAddress& a) {
  if (range_.contains(a)) used_.erase(range_.offsetOf(a));
}

void RangeAllocator::restoreUsed(const conf::IpAddress& a) {
  if (!range_.contains(a)) return;
  const auto off = range_.offsetOf(a);
  used_.insert(off);
  cooling_.erase(off);
}

void RangeAllocator::restoreRelease(const conf::IpAddress& a, int64_t released_ms) {
  if (!range_.contains(a)) return;
  const auto off = range_.offsetOf(a);
  if (!used_.contains(off) && cooldown_ms_ > 0) cooling_[off] = released_ms;
}

bool RangeAllocator::isUsed(const conf::IpAddress& a) const {
  return range_.contains(a) && used_.contains(range_.offsetOf(a));
}

RangeStats RangeAllocator::stats(int64_t now_ms) {
  pruneCooling(now_ms);
  return {last_ - first_ + 1 - reserved_.size(), used_.size(), cooling_.size() + held_.size()};
}

}  // namespace quasar::ipam
