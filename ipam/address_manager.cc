#include "ipam/address_manager.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"

namespace quasar::ipam {

AddressManager::AddressManager(const Options& options, AllocationStore& store, Clock clock)
    : clock_(std::move(clock)), options_(options), committer_(store) {
  for (const auto& cidr : options.pod_cidrs) {
    ranges_.emplace_back(cidr, options.reserved, options.release_cooldown_ms);
  }
}

absl::StatusOr<std::unique_ptr<AddressManager>> AddressManager::create(const Options& options,
                                                                       AllocationStore& store,
                                                                       Clock clock) {
  if (options.pod_cidrs.empty() && !options.claim_range) {
    return absl::InvalidArgumentError("no pod CIDR configured");
  }
  std::unique_ptr<AddressManager> m(new AddressManager(options, store, std::move(clock)));
  const int64_t now = m->clock_();
  auto snap = store.load(now - options.release_cooldown_ms);
  if (!snap.ok()) return snap.status();
  for (auto& a : snap->allocations) {
    for (const auto& ip : a.ips) {
      // An address outside today's ranges (a block given back or lost under a running pod)
      // stays recorded and releasable; addRange() marks it used if its range comes back.
      if (auto* r = m->rangeFor(ip)) r->restoreUsed(ip);
    }
    Attachment key = a.attachment;
    m->entries_.emplace(std::move(key), Entry{std::move(a), State::kCommitted});
  }
  for (const auto& [ip, at] : snap->releases) {
    if (auto* r = m->rangeFor(ip)) {
      r->restoreRelease(ip, at);
    } else {
      m->outside_releases_.emplace_back(ip, at);
    }
  }
  return m;
}

RangeAllocator* AddressManager::rangeFor(const conf::IpAddress& a) {
  for (auto& r : ranges_) {
    if (r.contains(a)) return &r;
  }
  return nullptr;
}

absl::StatusOr<std::vector<conf::IpAddress>> AddressManager::take(
    const std::vector<conf::IpAddress>& requested, int64_t now_ms) {
  std::vector<conf::IpAddress> taken;
  auto undo = [&] {
    for (const auto& ip : taken) rangeFor(ip)->unallocate(ip);
  };
  if (options_.allocation_gate) {
    if (auto s = options_.allocation_gate(); !s.ok()) return s;
  }
  if (ranges_.empty()) {
    return absl::ResourceExhaustedError("the node holds no pod CIDR block yet");
  }
  std::set<conf::Family> families;
  for (const auto& r : ranges_) families.insert(r.range().family());
  for (const auto& ip : requested) {
    if (!families.contains(ip.family())) {
      undo();
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

absl::StatusOr<AllocateResult> AddressManager::allocate(
    const AllocateRequest& request, const std::function<void(const AllocateResult&)>& on_reserved) {
  auto r = allocateOnce(request, on_reserved);
  if (!options_.claim_range || !absl::IsResourceExhausted(r.status())) return r;
  {
    std::lock_guard claim(claim_mu_);
    // Another request may have claimed a range while this one waited: try again first.
    r = allocateOnce(request, on_reserved);
    if (!absl::IsResourceExhausted(r.status())) return r;
    auto range = options_.claim_range();
    if (!range.ok()) return range.status();
    addRange(*range);
  }
  return allocateOnce(request, on_reserved);
}

void AddressManager::addRange(const conf::IpPrefix& range) {
  std::lock_guard lock(mu_);
  RangeAllocator& r = ranges_.emplace_back(range, options_.reserved, options_.release_cooldown_ms);
  // Pods may still hold addresses of this range from when the node had it before (entries_
  // keeps every allocation, inside the ranges or not): never hand those out twice.
  for (const auto& [attachment, e] : entries_) {
    for (const auto& ip : e.allocation.ips) {
      if (r.contains(ip)) r.restoreUsed(ip);
    }
  }
  for (const auto& [ip, at] : outside_releases_) {
    r.restoreRelease(ip, at);
  }
}

absl::Status AddressManager::removeRangeIfIdle(const conf::IpPrefix& range) {
  const int64_t now = clock_();
  std::lock_guard lock(mu_);
  for (auto it = ranges_.begin(); it != ranges_.end(); ++it) {
    if (it->range() != range.network()) continue;
    const auto st = it->stats(now);
    if (st.used != 0 || st.cooling != 0) {
      return absl::FailedPreconditionError(absl::StrCat(range.toString(), " is in use"));
    }
    ranges_.erase(it);
    return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat(range.toString(), " is not one of this node's ranges"));
}

absl::StatusOr<std::vector<conf::IpAddress>> AddressManager::dropRange(
    const conf::IpPrefix& range) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(ranges_.begin(), ranges_.end(),
                         [&](const RangeAllocator& r) { return r.range() == range.network(); });
  if (it == ranges_.end()) {
    return absl::NotFoundError(absl::StrCat(range.toString(), " is not one of this node's ranges"));
  }
  std::vector<conf::IpAddress> held;
  for (const auto& [attachment, e] : entries_) {
    for (const auto& ip : e.allocation.ips) {
      if (it->contains(ip)) held.push_back(ip);
    }
  }
  ranges_.erase(it);
  return held;
}

absl::StatusOr<AllocateResult> AddressManager::allocateOnce(
    const AllocateRequest& request, const std::function<void(const AllocateResult&)>& on_reserved) {
  const int64_t now = clock_();
  Allocation allocation;
  std::optional<AllocateResult> existing;
  {
    std::lock_guard lock(mu_);
    if (auto it = entries_.find(request.attachment); it != entries_.end()) {
      const uint64_t claim = it->second.claim;
      if (it->second.state != State::kCommitted || (claim != 0 && claim != request.claim)) {
        return absl::UnavailableError(absl::StrCat("attachment ", request.attachment.container_id,
                                                   "/", request.attachment.ifname,
                                                   " is being changed by another request; retry"));
      }
      if (request.claim != 0) it->second.claim = request.claim;
      existing = AllocateResult{it->second.allocation, false};
    }
  }
  // The hook may do I/O: never under the lock.
  if (existing) {
    if (on_reserved) on_reserved(*existing);
    return *existing;
  }
  {
    std::lock_guard lock(mu_);
    // Between the two locks another request may have taken the attachment.
    if (entries_.contains(request.attachment)) {
      return absl::UnavailableError(absl::StrCat("attachment ", request.attachment.container_id,
                                                 "/", request.attachment.ifname,
                                                 " is being changed by another request; retry"));
    }
    auto ips = take(request.requested_ips, now);
    if (!ips.ok()) return ips.status();
    allocation = {request.attachment, request.network, request.netns,
                  request.pod,        std::move(*ips), now};
    entries_.emplace(request.attachment, Entry{allocation, State::kPending, request.claim});
  }
  if (on_reserved) on_reserved(AllocateResult{allocation, true});
  absl::Status s = committer_.commit({Mutation::Kind::kPut, allocation, 0});
  std::lock_guard lock(mu_);
  if (!s.ok()) {
    for (const auto& ip : allocation.ips) rangeFor(ip)->unallocate(ip);
    entries_.erase(request.attachment);
    return s;
  }
  entries_.at(request.attachment).state = State::kCommitted;
  return AllocateResult{std::move(allocation), true};
}

absl::StatusOr<std::vector<conf::IpAddress>> AddressManager::release(const Attachment& attachment,
                                                                     bool hold, uint64_t claim) {
  Allocation allocation;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(attachment);
    if (it == entries_.end()) return std::vector<conf::IpAddress>{};
    if (it->second.state != State::kCommitted ||
        (it->second.claim != 0 && it->second.claim != claim)) {
      return absl::UnavailableError(absl::StrCat("attachment ", attachment.container_id, "/",
                                                 attachment.ifname,
                                                 " is being changed by another request; retry"));
    }
    it->second.state = State::kReleasing;
    allocation = it->second.allocation;
  }
  const int64_t now = clock_();
  absl::Status s = committer_.commit({Mutation::Kind::kDelete, allocation, now});
  std::lock_guard lock(mu_);
  if (!s.ok()) {
    entries_.at(attachment).state = State::kCommitted;
    return s;
  }
  // Only now, with the release durable, may the addresses be handed out again (after cool-down).
  for (const auto& ip : allocation.ips) {
    auto* r = rangeFor(ip);
    if (!r) continue;
    if (hold) {
      r->releaseHeld(ip);
    } else {
      r->release(ip, now);
    }
  }
  entries_.erase(attachment);
  return allocation.ips;
}

void AddressManager::endClaim(const Attachment& attachment, uint64_t claim) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(attachment);
  if (it != entries_.end() && it->second.claim == claim) it->second.claim = 0;
}

void AddressManager::endHold(const std::vector<conf::IpAddress>& ips) {
  const int64_t now = clock_();
  std::lock_guard lock(mu_);
  for (const auto& ip : ips) {
    if (auto* r = rangeFor(ip)) r->endHold(ip, now);
  }
}

absl::StatusOr<Allocation> AddressManager::get(const Attachment& attachment) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(attachment);
  if (it == entries_.end() || it->second.state == State::kPending) {
    return absl::NotFoundError(
        absl::StrCat("no allocation for ", attachment.container_id, "/", attachment.ifname));
  }
  return it->second.allocation;
}

std::vector<Allocation> AddressManager::list(const std::string& network) const {
  std::lock_guard lock(mu_);
  std::vector<Allocation> out;
  for (const auto& [key, e] : entries_) {
    if (e.state == State::kPending) continue;
    if (!network.empty() && e.allocation.network != network) continue;
    out.push_back(e.allocation);
  }
  return out;
}

std::vector<Attachment> AddressManager::heldAttachments() const {
  std::lock_guard lock(mu_);
  std::vector<Attachment> out;
  for (const auto& [key, e] : entries_) out.push_back(key);
  return out;
}

std::vector<Allocation> AddressManager::stale(const std::string& network,
                                              const std::vector<Attachment>& valid) const {
  const std::set<Attachment> keep(valid.begin(), valid.end());
  std::lock_guard lock(mu_);
  std::vector<Allocation> out;
  for (const auto& [key, e] : entries_) {
    if (e.state != State::kCommitted || e.claim != 0) continue;
    if (!network.empty() && e.allocation.network != network) continue;
    if (!keep.contains(key)) out.push_back(e.allocation);
  }
  return out;
}

std::vector<PoolStats> AddressManager::stats() {
  const int64_t now = clock_();
  std::lock_guard lock(mu_);
  std::vector<PoolStats> out;
  for (auto& r : ranges_) out.push_back({r.range(), r.stats(now)});
  return out;
}

}  // namespace quasar::ipam
