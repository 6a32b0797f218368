// claim() and the pools; release, gc and the operator's calls are in floating_lifecycle.cc.
#include "ipam/floating/floating_allocator.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ipam/failure_reason.h"
#include "ipam/floating/lease_rules.h"

namespace quasar::ipam::floating {

namespace {

std::string podName(const ClaimRequest& r) {
  return absl::StrCat(r.pod.namespace_, "/", r.pod.name);
}

template <typename PoolSetT>
std::string poolNames(const PoolSetT& ps) {
  return absl::StrJoin(ps, ", ",
                       [](std::string* out, const auto& p) { absl::StrAppend(out, p->pool.name); });
}

// The result's pool when the lease's pool was deleted meanwhile: its name only.
Pool poolNamed(const std::string& name) {
  Pool p;
  p.name = name;
  return p;
}

}  // namespace

FloatingAllocator::FloatingAllocator(LeaseStore& store, Options options)
    : store_(store), options_(options), pools_(std::make_shared<const PoolSet>()) {}

void FloatingAllocator::setPools(std::vector<Pool> pools) {
  std::sort(pools.begin(), pools.end(),
            [](const Pool& a, const Pool& b) { return a.name < b.name; });
  auto set = std::make_shared<PoolSet>();
  for (auto& p : pools) {
    Candidates c(p);
    set->push_back(std::make_shared<const PoolEntry>(PoolEntry{std::move(p), std::move(c)}));
  }
  std::lock_guard lock(mu_);
  pools_ = std::move(set);
}

std::vector<Pool> FloatingAllocator::pools() const {
  std::vector<Pool> out;
  for (const auto& p : *poolSet()) out.push_back(p->pool);
  return out;
}

std::shared_ptr<const FloatingAllocator::PoolSet> FloatingAllocator::poolSet() const {
  std::lock_guard lock(mu_);
  return pools_;
}

absl::StatusOr<FloatingAllocator::PoolSet> FloatingAllocator::order(const PoolSet& all,
                                                                    const ClaimRequest& r) const {
  PoolSet out;
  if (r.pools.empty()) {
    for (const auto& p : all) {
      if (p->pool.serves(r.node)) out.push_back(p);
    }
    if (out.empty()) {
      return withReason(absl::FailedPreconditionError(absl::StrCat(
                            "no pool serves node ", r.node.name, " (pools: ",
                            all.empty() ? std::string("none configured") : poolNames(all), ")")),
                        FailureReason::kNoPoolForNode);
    }
    return out;
  }
  PoolSet listed;
  for (const auto& name : r.pools) {
    auto it =
        std::find_if(all.begin(), all.end(), [&](const auto& p) { return p->pool.name == name; });
    if (it == all.end()) {
      return withReason(
          absl::FailedPreconditionError(absl::StrCat("no pool serves node ", r.node.name,
                                                     ": pool \"", name, "\" does not exist")),
          FailureReason::kNoPoolForNode);
    }
    listed.push_back(*it);
    if ((*it)->pool.serves(r.node)) out.push_back(*it);
  }
  if (out.empty()) {
    return withReason(absl::FailedPreconditionError(
                          absl::StrCat("no pool serves node ", r.node.name, ": ", poolNames(listed),
                                       " select other nodes (nodeSubnets, nodeSelector)")),
                      FailureReason::kNoPoolForNode);
  }
  return out;
}

absl::StatusOr<ClaimResult> FloatingAllocator::claim(const ClaimRequest& request) {
  auto all = poolSet();
  auto order_or = order(*all, request);
  if (!order_or.ok()) {
    // A repeated ADD keeps its address even when its pool changed since.
    auto leases = store_.list("");
    if (!leases.ok()) return leases.status();
    for (const auto& s : *leases) {
      if (s.lease.state == LeaseState::kBound && s.lease.attachment == request.attachment) {
        auto p = std::find_if(all->begin(), all->end(),
                              [&](const auto& e) { return e->pool.name == s.lease.pool; });
        return ClaimResult{s.lease, p != all->end() ? (*p)->pool : poolNamed(s.lease.pool), false};
      }
    }
    return order_or.status();
  }
  for (int pass = 0; pass < options_.max_passes; ++pass) {
    auto r = claimPass(*all, *order_or, request);
    if (!r.ok()) return r.status();
    if (r->has_value()) return std::move(**r);
  }
  return absl::UnavailableError(absl::StrCat(
      "floating IP for pod ", podName(request), " on node ", request.node.name, ": lost ",
      options_.max_passes, " compare-and-swap races in a row to other nodes; retry"));
}

absl::StatusOr<std::optional<ClaimResult>> FloatingAllocator::claimPass(const PoolSet& all,
                                                                        const PoolSet& order,
                                                                        const ClaimRequest& r) {
  auto leases = store_.list("");
  if (!leases.ok()) return leases.status();
  auto find_pool = [&](const std::string& name) -> std::shared_ptr<const PoolEntry> {
    for (const auto& p : all) {
      if (p->pool.name == name) return p;
    }
    return nullptr;
  };
  auto rank_in_order = [&](const std::string& name) -> size_t {
    for (size_t i = 0; i < order.size(); ++i) {
      if (order[i]->pool.name == name) return i;
    }
    return order.size();
  };
  const int64_t now = r.now_unix_ms;

  // (a) A repeated ADD.
  for (const auto& s : *leases) {
    if (s.lease.state == LeaseState::kBound && s.lease.attachment == r.attachment) {
      auto p = find_pool(s.lease.pool);
      return ClaimResult{s.lease, p ? p->pool : poolNamed(s.lease.pool), false};
    }
  }

  // The lease as the request holds it: bound to its attachment, under its policy and workload.
  auto bindToRequest = [&](Lease& l) {
    l.state = LeaseState::kBound;
    l.policy = r.policy;
    l.workload = r.workload;
    l.pod = r.pod;
    l.node = r.node.name;
    l.attachment = r.attachment;
    l.since_unix_ms = now;
  };
  // Binds `s` (of pool `pool`) to the request: Aborted when another node changed it first.
  auto bind = [&](const StoredLease& s, const std::string& pool) -> absl::StatusOr<ClaimResult> {
    Lease l = s.lease;
    if (l.state == LeaseState::kReleased) l.operator_reserved = false;
    l.pool = pool;
    bindToRequest(l);
    auto rev = store_.update(l, s.revision);
    if (!rev.ok()) return rev.status();
    auto p = find_pool(pool);
    return ClaimResult{std::move(l), p ? p->pool : poolNamed(pool), true};
  };
  auto lost_or = [](absl::StatusOr<ClaimResult> c) -> absl::StatusOr<std::optional<ClaimResult>> {
    if (c.ok()) return std::optional<ClaimResult>(std::move(*c));
    if (absl::IsAborted(c.status()) || absl::IsAlreadyExists(c.status())) {
      return std::optional<ClaimResult>();
    }
    return c.status();
  };

  std::map<conf::IpAddress, const StoredLease*> by_ip;
  std::map<std::string, int64_t> in_use;
  for (const auto& s : *leases) {
    by_ip[s.lease.ip] = &s;
    if (s.lease.state != LeaseState::kReleased) ++in_use[s.lease.pool];
  }
  auto has_room = [&](const PoolEntry& p) {
    return !p.pool.max_allocated || in_use[p.pool.name] < *p.pool.max_allocated;
  };
  auto create = [&](const conf::IpAddress& ip, const Pool& pool) -> absl::StatusOr<ClaimResult> {
    Lease l;
    l.pool = pool.name;
    l.ip = ip;
    bindToRequest(l);
    auto rev = store_.create(l);
    if (!rev.ok()) return rev.status();
    return ClaimResult{std::move(l), pool, true};
  };

  // (b) An address kept for the workload or this pod identity.
  if (!r.ip) {
    const StoredLease* best = nullptr;
    std::tuple<int, size_t, conf::IpAddress> best_key;
    for (const auto& s : *leases) {
      const int rank = keptRank(s.lease, r.workload, r.pod);
      if (rank == 0) continue;
      auto p = find_pool(s.lease.pool);
      if (!p) continue;  // its pool was deleted: the address is no longer ours to hand out
      if (!p->pool.serves(r.node)) {
        if (isIdentityKind(r.workload.kind) && rank < kRankReserved) {
          return withReason(
              absl::FailedPreconditionError(absl::StrCat(
                  "pod ", podName(r), " keeps floating IP ", s.lease.ip.toString(), " of pool ",
                  s.lease.pool, " (", std::string(toString(s.lease.policy)),
                  "), which does not serve node ", r.node.name)),
              FailureReason::kNoPoolForNode);
        }
        continue;
      }
      std::tuple<int, size_t, conf::IpAddress> key{rank, rank_in_order(p->pool.name), s.lease.ip};
      if (!best || key < best_key) {
        best = &s;
        best_key = key;
      }
    }
    if (best) return lost_or(bind(*best, best->lease.pool));
  } else {
    // (c) The requested address.
    const conf::IpAddress& ip = *r.ip;
    auto in = std::find_if(order.begin(), order.end(),
                           [&](const auto& p) { return p->candidates.contains(ip); });
    if (in == order.end()) {
      return withReason(absl::InvalidArgumentError(
                            absl::StrCat(ip.toString(), " is outside every pool serving node ",
                                         r.node.name, " (", poolNames(order), ")")),
                        FailureReason::kOutsidePools);
    }
    const PoolEntry& pool = **in;
    auto full = [&] {
      return withReason(
          absl::ResourceExhaustedError(absl::StrCat(
              "pool ", pool.pool.name, " is at its maxAllocated (", *pool.pool.max_allocated,
              ") for ", ip.toString(), " on node ", r.node.name)),
          FailureReason::kPoolsFull);
    };
    auto it = by_ip.find(ip);
    if (it == by_ip.end()) {
      if (!has_room(pool)) return full();
      return lost_or(create(ip, pool.pool));
    }
    const StoredLease& s = *it->second;
    const Lease& l = s.lease;
    if (keptRank(l, r.workload, r.pod) != 0) return lost_or(bind(s, l.pool));
    if (l.state == LeaseState::kReserved && l.workload.empty()) {
      return lost_or(bind(s, l.pool));
    }
    if (l.state == LeaseState::kReleased) {
      if (cooling(l, now) && !l.pod.sameName(r.pod)) {
        return absl::UnavailableError(absl::StrCat(ip.toString(), " was released at ",
                                                   l.released_unix_ms, " and cools down for ",
                                                   options_.cooldown_ms, " ms; retry"));
      }
      if (!has_room(pool)) return full();
      return lost_or(bind(s, pool.pool.name));
    }
    return withReason(absl::AlreadyExistsError(absl::StrCat(
                          ip.toString(), " (pool ", l.pool, ") requested for pod ", podName(r),
                          " on node ", r.node.name, " is taken by ", describeHolder(l))),
                      FailureReason::kAddressTaken);
  }

  // (d) The next free address, pool by pool.
  bool lost = false;
  bool cooling_seen = false;
  for (const auto& p : order) {
    if (!has_room(*p)) continue;
    for (auto c = p->candidates.next(std::nullopt); c; c = p->candidates.next(c)) {
      auto it = by_ip.find(*c);
      absl::StatusOr<ClaimResult> got = absl::AbortedError("");
      if (it == by_ip.end()) {
        got = create(*c, p->pool);
      } else if (it->second->lease.state == LeaseState::kReleased) {
        if (cooling(it->second->lease, now)) {
          cooling_seen = true;
          continue;
        }
        got = bind(*it->second, p->pool.name);
      } else {
        continue;
      }
      if (got.ok()) return std::optional<ClaimResult>(std::move(*got));
      if (!absl::IsAborted(got.status()) && !absl::IsAlreadyExists(got.status())) {
        return got.status();
      }
      lost = true;  // another node took it first: try the next one
    }
  }
  if (lost) return std::optional<ClaimResult>();
  if (cooling_seen) {
    return absl::UnavailableError(absl::StrCat("floating IP for pod ", podName(r), " on node ",
                                               r.node.name, ": the free addresses of ",
                                               poolNames(order), " were released less than ",
                                               options_.cooldown_ms, " ms ago (cool-down); retry"));
  }
  std::vector<std::string> parts;
  for (const auto& p : order) {
    const uint64_t cap = p->candidates.size();
    const bool by_max =
        p->pool.max_allocated && static_cast<uint64_t>(*p->pool.max_allocated) < cap;
    parts.push_back(absl::StrCat(p->pool.name, " (", in_use[p->pool.name], "/",
                                 by_max ? static_cast<uint64_t>(*p->pool.max_allocated) : cap,
                                 by_max ? " maxAllocated" : "", ")"));
  }
  return withReason(
      absl::ResourceExhaustedError(absl::StrCat("every pool full for pod ", podName(r), " on node ",
                                                r.node.name, ": ", absl::StrJoin(parts, ", "))),
      FailureReason::kPoolsFull);
}

bool FloatingAllocator::cooling(const Lease& l, int64_t now_unix_ms) const {
  return l.released_unix_ms > 0 && now_unix_ms < l.released_unix_ms + options_.cooldown_ms;
}

}  // namespace quasar::ipam::floating
