// FloatingAllocator: what happens to a lease after claim(): release by policy, gc, the
// operator's reservations, listing and statistics.
#include <algorithm>
#include <charconv>
#include <map>

#include "absl/strings/str_cat.h"
#include "ipam/floating/floating_allocator.h"
#include "ipam/floating/lease_rules.h"

namespace quasar::ipam::floating {

namespace {

// The ordinal of StatefulSet pod `pod` ("<set>-<n>"), or -1.
int64_t ordinal(const WorkloadRef& set, const LeasePod& pod) {
  const std::string prefix = set.name + "-";
  if (pod.name.size() <= prefix.size() || pod.name.compare(0, prefix.size(), prefix) != 0) {
    return -1;
  }
  int64_t n = -1;
  const char* begin = pod.name.data() + prefix.size();
  const char* end = pod.name.data() + pod.name.size();
  auto [ptr, ec] = std::from_chars(begin, end, n);
  if (ec != std::errc() || ptr != end) return -1;
  return n;
}

bool isPooledKind(WorkloadKind k) {
  return k == WorkloadKind::kDeployment || k == WorkloadKind::kReplicaSet;
}

}  // namespace

absl::Status FloatingAllocator::free(const StoredLease& s, int64_t now_unix_ms) {
  const Lease& l = s.lease;
  const int64_t last_use = l.state == LeaseState::kBound ? now_unix_ms : l.released_unix_ms;
  if (options_.cooldown_ms > 0 && last_use > 0 && now_unix_ms < last_use + options_.cooldown_ms) {
    // The pod identity stays so that the same pod may take it back within the cool-down.
    Lease t;
    t.pool = l.pool;
    t.ip = l.ip;
    t.state = LeaseState::kReleased;
    t.policy = l.policy;
    t.workload = l.workload;
    t.pod = l.pod;
    t.since_unix_ms = now_unix_ms;
    t.released_unix_ms = last_use;
    return store_.update(t, s.revision).status();
  }
  return store_.remove(l.ip, s.revision);
}

absl::Status FloatingAllocator::releaseImpl(const conf::Attachment& attachment, int64_t now_unix_ms,
                                            bool used) {
  for (int pass = 0; pass < options_.max_passes; ++pass) {
    auto leases = store_.list("");
    if (!leases.ok()) return leases.status();
    bool lost = false;
    for (const auto& s : *leases) {
      const Lease& l = s.lease;
      if (l.state != LeaseState::kBound || l.attachment != attachment) continue;
      absl::Status st;
      if (l.operator_reserved || l.policy != ReleasePolicy::kRelease) {
        Lease kept = l;
        kept.state = l.operator_reserved ? LeaseState::kReserved : LeaseState::kUnbound;
        kept.node.clear();
        kept.attachment = {};
        kept.since_unix_ms = now_unix_ms;
        kept.released_unix_ms = now_unix_ms;
        st = store_.update(kept, s.revision).status();
      } else if (used) {
        st = free(s, now_unix_ms);
      } else {
        st = store_.remove(l.ip, s.revision);
      }
      if (absl::IsAborted(st)) {
        lost = true;
      } else if (!st.ok()) {
        return st;
      }
    }
    if (!lost) return absl::OkStatus();
  }
  return absl::UnavailableError(
      absl::StrCat("release of container ", attachment.container_id, " ifname ", attachment.ifname,
                   ": lost ", options_.max_passes, " compare-and-swap races in a row; retry"));
}

absl::StatusOr<std::vector<Lease>> FloatingAllocator::gc(const WorkloadLiveness& alive,
                                                         int64_t now_unix_ms) {
  auto leases = store_.list("");
  if (!leases.ok()) return leases.status();
  std::map<std::tuple<WorkloadKind, std::string, std::string, std::string>, WorkloadStatus> asked;
  auto status_of = [&](const WorkloadRef& w) {
    auto key = std::make_tuple(w.kind, w.namespace_, w.name, w.uid);
    auto it = asked.find(key);
    if (it == asked.end()) it = asked.emplace(key, alive(w)).first;
    return it->second;
  };

  std::vector<const StoredLease*> to_free;
  // Per Deployment/ReplicaSet (with its uid): its immutable leases, bound and unbound.
  std::map<std::tuple<WorkloadKind, std::string, std::string, std::string>,
           std::vector<const StoredLease*>>
      pooled;
  for (const auto& s : *leases) {
    const Lease& l = s.lease;
    if (l.state == LeaseState::kReleased) {
      if (!cooling(l, now_unix_ms)) to_free.push_back(&s);
      continue;
    }
    if (l.operator_reserved || l.state == LeaseState::kReserved) continue;
    if (l.policy != ReleasePolicy::kImmutable || l.workload.empty()) continue;
    if (isPooledKind(l.workload.kind)) {
      pooled[{l.workload.kind, l.workload.namespace_, l.workload.name, l.workload.uid}].push_back(
          &s);
    }
    if (l.state != LeaseState::kUnbound) continue;
    const WorkloadStatus st = status_of(l.workload);
    if (!st.exists) {
      to_free.push_back(&s);
    } else if (l.workload.kind == WorkloadKind::kStatefulSet &&
               ordinal(l.workload, l.pod) >= st.replicas) {
      to_free.push_back(&s);  // the set was scaled below this pod's ordinal
    }
  }
  for (auto& [key, group] : pooled) {
    const WorkloadStatus st = status_of(group.front()->lease.workload);
    if (!st.exists) continue;  // every unbound one is already freed above
    int64_t extra = static_cast<int64_t>(group.size()) - st.replicas;
    // The most recently unbound addresses go first: the oldest are the likeliest to be in
    // someone's allow-list.
    std::sort(group.begin(), group.end(), [](const StoredLease* a, const StoredLease* b) {
      return std::tie(b->lease.released_unix_ms, b->lease.ip) <
             std::tie(a->lease.released_unix_ms, a->lease.ip);
    });
    for (const StoredLease* s : group) {
      if (extra <= 0) break;
      if (s->lease.state != LeaseState::kUnbound) continue;
      to_free.push_back(s);
      --extra;
    }
  }

  std::vector<Lease> freed;
  for (const StoredLease* s : to_free) {
    absl::Status st = s->lease.state == LeaseState::kReleased
                          ? store_.remove(s->lease.ip, s->revision)
                          : free(*s, now_unix_ms);
    if (absl::IsAborted(st)) continue;  // changed by another node: the next run decides
    if (!st.ok()) return st;
    if (s->lease.state != LeaseState::kReleased) freed.push_back(s->lease);
  }
  return freed;
}

absl::StatusOr<Lease> FloatingAllocator::reserve(const conf::IpAddress& ip, const std::string& pool,
                                                 const std::optional<WorkloadRef>& workload,
                                                 int64_t now_unix_ms) {
  auto all = poolSet();
  auto p =
      std::find_if(all->begin(), all->end(), [&](const auto& e) { return e->pool.name == pool; });
  if (p == all->end()) {
    return absl::NotFoundError(
        absl::StrCat("reserve ", ip.toString(), ": pool \"", pool, "\" does not exist"));
  }
  if (!(*p)->candidates.contains(ip)) {
    return absl::InvalidArgumentError(
        absl::StrCat("reserve ", ip.toString(), ": not an address pool ", pool,
                     " hands out (ranges minus exclude, network, broadcast and gateway)"));
  }
  Lease want;
  want.pool = pool;
  want.ip = ip;
  want.state = LeaseState::kReserved;
  want.policy = ReleasePolicy::kNever;
  want.workload = workload.value_or(WorkloadRef{});
  want.since_unix_ms = now_unix_ms;
  want.operator_reserved = true;
  for (int pass = 0; pass < options_.max_passes; ++pass) {
    auto cur = store_.get(ip);
    if (!cur.ok()) return cur.status();
    absl::StatusOr<int64_t> rev;
    Lease result = want;
    if (!cur->has_value()) {
      rev = store_.create(want);
    } else {
      const Lease& l = (*cur)->lease;
      if (l.state == LeaseState::kReserved || l.state == LeaseState::kReleased) {
        if (l.state == LeaseState::kReserved && l.workload == want.workload) return l;
        result.released_unix_ms = l.released_unix_ms;
        rev = store_.update(result, (*cur)->revision);
      } else if (workload && l.workload.sameName(*workload)) {
        if (l.operator_reserved) return l;
        result = l;
        result.operator_reserved = true;
        rev = store_.update(result, (*cur)->revision);
      } else {
        return absl::AlreadyExistsError(
            absl::StrCat("reserve ", ip.toString(), ": taken by ", describeHolder(l)));
      }
    }
    if (rev.ok()) return result;
    if (!absl::IsAborted(rev.status()) && !absl::IsAlreadyExists(rev.status())) {
      return rev.status();
    }
  }
  return absl::UnavailableError(
      absl::StrCat("reserve ", ip.toString(), ": the lease keeps changing; retry"));
}

absl::Status FloatingAllocator::releaseByOperator(const conf::IpAddress& ip, int64_t now_unix_ms) {
  for (int pass = 0; pass < options_.max_passes; ++pass) {
    auto cur = store_.get(ip);
    if (!cur.ok()) return cur.status();
    if (!cur->has_value() || (*cur)->lease.state == LeaseState::kReleased) {
      return absl::NotFoundError(absl::StrCat("release ", ip.toString(), ": not held"));
    }
    const StoredLease& s = **cur;
    absl::Status st;
    if (s.lease.state == LeaseState::kBound) {
      Lease l = s.lease;
      l.operator_reserved = false;
      l.policy = ReleasePolicy::kRelease;
      st = store_.update(l, s.revision).status();
    } else {
      st = free(s, now_unix_ms);
    }
    if (!absl::IsAborted(st)) return st;
  }
  return absl::UnavailableError(
      absl::StrCat("release ", ip.toString(), ": the lease keeps changing; retry"));
}

absl::StatusOr<std::vector<Lease>> FloatingAllocator::list() {
  auto leases = store_.list("");
  if (!leases.ok()) return leases.status();
  std::vector<Lease> out;
  out.reserve(leases->size());
  for (auto& s : *leases) out.push_back(std::move(s.lease));
  return out;
}

absl::StatusOr<std::vector<FloatingPoolStats>> FloatingAllocator::stats() {
  auto all = poolSet();
  auto leases = store_.list("");
  if (!leases.ok()) return leases.status();
  std::map<std::string, FloatingPoolStats> by_name;
  for (const auto& p : *all) {
    FloatingPoolStats& st = by_name[p->pool.name];
    st.name = p->pool.name;
    st.capacity = p->candidates.size();
    st.max_allocated = p->pool.max_allocated;
  }
  for (const auto& s : *leases) {
    auto it = by_name.find(s.lease.pool);
    if (it == by_name.end()) continue;
    FloatingPoolStats& st = it->second;
    switch (s.lease.state) {
      case LeaseState::kBound:
        ++st.bound;
        break;
      case LeaseState::kUnbound:
        ++st.unbound;
        break;
      case LeaseState::kReserved:
        ++st.reserved;
        break;
      case LeaseState::kReleased:
        ++st.cooling;
        continue;
    }
    ++st.in_use;
  }
  std::vector<FloatingPoolStats> out;
  for (auto& [name, st] : by_name) out.push_back(std::move(st));
  return out;
}

}  // namespace quasar::ipam::floating
