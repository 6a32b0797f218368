#include "ipam/block_source.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"

namespace quasar::ipam {

BlockSource::BlockSource(const std::vector<conf::IpPrefix>& ranges,
                         std::vector<conf::IpAddress> reserved, int64_t cooldown_ms,
                         std::function<absl::Status()> gate)
    : reserved_(std::move(reserved)), cooldown_ms_(cooldown_ms), gate_(std::move(gate)) {
  for (const auto& cidr : ranges) ranges_.emplace_back(cidr, reserved_, cooldown_ms_);
}

RangeAllocator* BlockSource::rangeFor(const conf::IpAddress& a) {
  for (auto& r : ranges_) {
    if (r.contains(a)) return &r;
  }
  return nullptr;
}

absl::StatusOr<std::vector<conf::IpAddress>> BlockSource::take(const AllocateRequest& request,
                                                               int64_t now_ms) {
  const auto& requested = request.requested_ips;
  std::lock_guard lock(mu_);
  std::vector<conf::IpAddress> taken;
  auto undo = [&] {
    for (const auto& ip : taken) rangeFor(ip)->unallocate(ip);
  };
  if (gate_) {
    if (auto s = gate_(); !s.ok()) return s;
  }
  if (ranges_.empty()) {
    return absl::ResourceExhaustedError("the node holds no pod CIDR block yet");
  }
  std::set<conf::Family> families;
  for (const auto& r : ranges_) families.insert(r.range().family());
  for (const auto& ip : requested) {
    if (!families.contains(ip.family())) {
      return absl::InvalidArgumentError(
          absl::StrCat("requested ", ip.toString(), " but the node has no pod CIDR of its family"));
    }
  }
  std::set<conf::Family> done;
  for (const auto& ip : requested) {
    if (done.contains(ip.family())) {
      undo();
      return absl::InvalidArgumentError("at most one requested address per family");
    }
    RangeAllocator* r = rangeFor(ip);
    absl::Status s = r ? r->allocate(ip, now_ms)
                       : absl::InvalidArgumentError(
                             absl::StrCat(ip.toString(), " is outside the node's pod CIDRs"));
    if (!s.ok()) {
      undo();
      return s;
    }
    taken.push_back(ip);
    done.insert(ip.family());
  }
  for (auto& r : ranges_) {
    const auto family = r.range().family();
    if (done.contains(family)) continue;
    auto ip = r.allocateNext(now_ms);
    if (ip.ok()) {
      taken.push_back(*ip);
      done.insert(family);
      continue;
    }
    // Another range of the same family may still have room; fail only after the last one.
    bool later_range_of_family = false;
    for (auto it = ranges_.rbegin(); &*it != &r; ++it) {
      if (it->range().family() == family) later_range_of_family = true;
    }
    if (!later_range_of_family) {
      undo();
      return ip.status();
    }
  }
  return taken;
}

void BlockSource::untake(const Allocation& allocation) {
  std::lock_guard lock(mu_);
  for (const auto& ip : allocation.ips) {
    if (auto* r = rangeFor(ip)) r->unallocate(ip);
  }
}

void BlockSource::released(const Allocation& allocation, bool hold, int64_t now_ms) {
  std::lock_guard lock(mu_);
  for (const auto& ip : allocation.ips) {
    auto* r = rangeFor(ip);
    if (!r) continue;
    if (hold) {
      r->releaseHeld(ip);
    } else {
      r->release(ip, now_ms);
    }
  }
}

void BlockSource::endHold(const std::vector<conf::IpAddress>& ips, int64_t now_ms) {
  std::lock_guard lock(mu_);
  for (const auto& ip : ips) {
    if (auto* r = rangeFor(ip)) r->endHold(ip, now_ms);
  }
}

void BlockSource::restore(const Allocation& allocation) {
  std::lock_guard lock(mu_);
  for (const auto& ip : allocation.ips) {
    // An address outside today's ranges (a block given back or lost under a running pod)
    // stays recorded and releasable; addRange() marks it used if its range comes back.
    if (auto* r = rangeFor(ip)) r->restoreUsed(ip);
  }
}

void BlockSource::restoreRelease(const conf::IpAddress& ip, int64_t released_ms) {
  std::lock_guard lock(mu_);
  if (auto* r = rangeFor(ip)) {
    r->restoreRelease(ip, released_ms);
  } else {
    outside_releases_.emplace_back(ip, released_ms);
  }
}

void BlockSource::addRange(const conf::IpPrefix& range, const std::vector<conf::IpAddress>& held) {
  std::lock_guard lock(mu_);
  RangeAllocator& r = ranges_.emplace_back(range, reserved_, cooldown_ms_);
  for (const auto& ip : held) {
    if (r.contains(ip)) r.restoreUsed(ip);
  }
  for (const auto& [ip, at] : outside_releases_) {
    if (r.contains(ip)) r.restoreRelease(ip, at);
  }
}

absl::Status BlockSource::removeRangeIfIdle(const conf::IpPrefix& range, int64_t now_ms) {
  std::lock_guard lock(mu_);
  for (auto it = ranges_.begin(); it != ranges_.end(); ++it) {
    if (it->range() != range.network()) continue;
    const auto st = it->stats(now_ms);
    if (st.used != 0 || st.cooling != 0) {
      return absl::FailedPreconditionError(absl::StrCat(range.toString(), " is in use"));
    }
    ranges_.erase(it);
    return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat(range.toString(), " is not one of this node's ranges"));
}

absl::Status BlockSource::dropRange(const conf::IpPrefix& range) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(ranges_.begin(), ranges_.end(),
                         [&](const RangeAllocator& r) { return r.range() == range.network(); });
  if (it == ranges_.end()) {
    return absl::NotFoundError(absl::StrCat(range.toString(), " is not one of this node's ranges"));
  }
  ranges_.erase(it);
  return absl::OkStatus();
}

std::vector<PoolStats> BlockSource::stats(int64_t now_ms) {
  std::lock_guard lock(mu_);
  std::vector<PoolStats> out;
  for (auto& r : ranges_) out.push_back({r.range(), r.stats(now_ms)});
  return out;
}

}  // namespace quasar::ipam
