#include "ipam/address_manager.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"

namespace quasar::ipam {

AddressManager::AddressManager(const Options& options, AllocationStore& store, Clock clock)
    : clock_(std::move(clock)),
      options_(options),
      committer_(store),
      blocks_(options.pod_cidrs, options.reserved, options.release_cooldown_ms,
              options.allocation_gate) {}

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
    // An allocation of a source the node no longer has stays recorded and releasable.
    if (auto* source = m->sourceOf(a.source)) source->restore(a);
    Attachment key = a.attachment;
    m->entries_.emplace(std::move(key), Entry{std::move(a), State::kCommitted});
  }
  // The node's store records the releases for the blocks' cool-down; other sources keep
  // their own.
  for (const auto& [ip, at] : snap->releases) m->blocks_.restoreRelease(ip, at);
  return m;
}

AddressSource* AddressManager::sourceOf(const std::string& name) const {
  if (name == kBlocks) return const_cast<BlockSource*>(&blocks_);
  auto it = options_.sources.find(name);
  return it == options_.sources.end() ? nullptr : it->second;
}

std::vector<conf::IpAddress> AddressManager::heldAddresses(const conf::IpPrefix& range) const {
  std::vector<conf::IpAddress> held;
  for (const auto& [attachment, e] : entries_) {
    for (const auto& ip : e.allocation.ips) {
      if (range.contains(ip)) held.push_back(ip);
    }
  }
  return held;
}

absl::StatusOr<AllocateResult> AddressManager::allocate(
    const AllocateRequest& request, const std::function<void(const AllocateResult&)>& on_reserved) {
  auto r = allocateOnce(request, on_reserved);
  if (request.source != kBlocks || !options_.claim_range || !absl::IsResourceExhausted(r.status()))
    return r;
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
  // Pods may still hold addresses of this range from when the node had it before (entries_
  // keeps every allocation, inside the ranges or not): never hand those out twice.
  blocks_.addRange(range, heldAddresses(range));
}

absl::Status AddressManager::removeRangeIfIdle(const conf::IpPrefix& range) {
  return blocks_.removeRangeIfIdle(range, clock_());
}

absl::StatusOr<std::vector<conf::IpAddress>> AddressManager::dropRange(
    const conf::IpPrefix& range) {
  std::lock_guard lock(mu_);
  if (auto s = blocks_.dropRange(range); !s.ok()) return s;
  return heldAddresses(range);
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
  AddressSource* source = sourceOf(request.source);
  if (!source) {
    return absl::FailedPreconditionError(
        absl::StrCat("this node has no address source \"", request.source, "\""));
  }
  {
    std::lock_guard lock(mu_);
    // Between the two locks another request may have taken the attachment.
    if (entries_.contains(request.attachment)) {
      return absl::UnavailableError(absl::StrCat("attachment ", request.attachment.container_id,
                                                 "/", request.attachment.ifname,
                                                 " is being changed by another request; retry"));
    }
    // Pending with no address yet: the attachment is this request's while the source works
    // (a source may do I/O, so never under the lock).
    Allocation pending;
    pending.attachment = request.attachment;
    entries_.emplace(request.attachment, Entry{std::move(pending), State::kPending, request.claim});
  }
  auto ips = source->take(request, now);
  {
    std::lock_guard lock(mu_);
    if (!ips.ok()) {
      entries_.erase(request.attachment);
      settled_.notify_all();
      return ips.status();
    }
    allocation = {request.attachment, request.network, request.netns,
                  request.pod,        std::move(*ips), now,
                  request.source};
    entries_.at(request.attachment).allocation = allocation;
  }
  if (on_reserved) on_reserved(AllocateResult{allocation, true});
  absl::Status s = committer_.commit({Mutation::Kind::kPut, allocation, 0});
  if (!s.ok()) {
    source->untake(allocation);
    std::lock_guard lock(mu_);
    entries_.erase(request.attachment);
    settled_.notify_all();
    return s;
  }
  std::lock_guard lock(mu_);
  entries_.at(request.attachment).state = State::kCommitted;
  settled_.notify_all();
  return AllocateResult{std::move(allocation), true};
}

absl::StatusOr<std::vector<conf::IpAddress>> AddressManager::release(const Attachment& attachment,
                                                                     bool hold, uint64_t claim) {
  Allocation allocation;
  {
    std::unique_lock lock(mu_);
    // An ADD's connection may end a moment after the plugin has exited, and the DEL that
    // follows may come first: wait briefly for the ADD to let go rather than fail it.
    auto busy = [&] {
      auto it = entries_.find(attachment);
      return it != entries_.end() && (it->second.state != State::kCommitted ||
                                      (it->second.claim != 0 && it->second.claim != claim));
    };
    settled_.wait_for(lock, options_.release_busy_wait, [&] { return !busy(); });
    auto it = entries_.find(attachment);
    if (it == entries_.end()) return std::vector<conf::IpAddress>{};
    if (busy()) {
      return absl::UnavailableError(absl::StrCat("attachment ", attachment.container_id, "/",
                                                 attachment.ifname,
                                                 " is being changed by another request; retry"));
    }
    it->second.state = State::kReleasing;
    allocation = it->second.allocation;
  }
  const int64_t now = clock_();
  absl::Status s = committer_.commit({Mutation::Kind::kDelete, allocation, now});
  if (!s.ok()) {
    std::lock_guard lock(mu_);
    entries_.at(attachment).state = State::kCommitted;
    settled_.notify_all();
    return s;
  }
  // Only now, with the release durable, may the addresses be handed out again (after cool-down).
  if (auto* source = sourceOf(allocation.source)) source->released(allocation, hold, now);
  std::lock_guard lock(mu_);
  entries_.erase(attachment);
  settled_.notify_all();
  return allocation.ips;
}

void AddressManager::endClaim(const Attachment& attachment, uint64_t claim) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(attachment);
  if (it != entries_.end() && it->second.claim == claim) {
    it->second.claim = 0;
    settled_.notify_all();
  }
}

void AddressManager::endHold(const std::vector<conf::IpAddress>& ips) {
  const int64_t now = clock_();
  blocks_.endHold(ips, now);
  for (const auto& [name, source] : options_.sources) source->endHold(ips, now);
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

std::vector<PoolStats> AddressManager::stats() { return blocks_.stats(clock_()); }

}  // namespace quasar::ipam
