#include "ipam/floating/pool.h"

#include <algorithm>
#include <limits>

namespace quasar::ipam::floating {

bool Pool::serves(const NodeFacts& node) const {
  for (const auto& [key, value] : node_selector) {
    auto it = node.labels.find(key);
    if (it == node.labels.end() || it->second != value) return false;
  }
  if (node_subnets.empty()) return true;
  for (const auto& s : node_subnets) {
    for (const auto& a : node.addresses) {
      if (s.contains(a)) return true;
    }
  }
  return false;
}

namespace {

// Removes [first, last] from sorted disjoint `in`.
template <typename Interval>
void subtract(std::vector<Interval>& in, absl::uint128 first, absl::uint128 last) {
  std::vector<Interval> out;
  out.reserve(in.size() + 1);
  for (const auto& i : in) {
    if (i.last < first || i.first > last) {
      out.push_back(i);
      continue;
    }
    if (i.first < first) out.push_back({i.first, first - 1});
    if (i.last > last) out.push_back({last + 1, i.last});
  }
  in = std::move(out);
}

}  // namespace

Candidates::Candidates(const Pool& pool) : family_(pool.subnet.family()) {
  const conf::IpPrefix net = pool.subnet.network();
  const absl::uint128 net_first = net.address().toInt();
  const absl::uint128 net_last = net_first + (net.size() - 1);
  std::vector<Interval> ranges;
  for (const auto& r : pool.ranges) {
    if (r.first.family() != family_ || r.last.family() != family_) continue;
    absl::uint128 first = std::max(r.first.toInt(), net_first);
    absl::uint128 last = std::min(r.last.toInt(), net_last);
    if (first <= last) ranges.push_back({first, last});
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const Interval& a, const Interval& b) { return a.first < b.first; });
  for (const auto& r : ranges) {
    if (!intervals_.empty() && r.first <= intervals_.back().last + 1) {
      intervals_.back().last = std::max(intervals_.back().last, r.last);
    } else {
      intervals_.push_back(r);
    }
  }
  for (const auto& e : pool.exclude) {
    if (e.first.family() != family_ || e.last.family() != family_) continue;
    subtract(intervals_, e.first.toInt(), e.last.toInt());
  }
  // A /31 or /32 (RFC 3021) has no network or broadcast address to avoid.
  if (family_ == conf::Family::kV4 && net.length() <= 30) {
    subtract(intervals_, net_first, net_first);
    subtract(intervals_, net_last, net_last);
  } else if (family_ == conf::Family::kV6 && net.length() <= 126) {
    subtract(intervals_, net_first, net_first);
  }
  if (pool.gateway && pool.gateway->family() == family_) {
    subtract(intervals_, pool.gateway->toInt(), pool.gateway->toInt());
  }
}

bool Candidates::contains(const conf::IpAddress& a) const {
  if (a.family() != family_) return false;
  const absl::uint128 v = a.toInt();
  auto it = std::upper_bound(intervals_.begin(), intervals_.end(), v,
                             [](absl::uint128 x, const Interval& i) { return x < i.first; });
  if (it == intervals_.begin()) return false;
  --it;
  return v <= it->last;
}

uint64_t Candidates::size() const {
  absl::uint128 total = 0;
  const absl::uint128 cap = std::numeric_limits<uint64_t>::max();
  for (const auto& i : intervals_) {
    total += i.last - i.first + 1;
    if (total >= cap) return std::numeric_limits<uint64_t>::max();
  }
  return static_cast<uint64_t>(total);
}

std::optional<conf::IpAddress> Candidates::next(const std::optional<conf::IpAddress>& after) const {
  if (intervals_.empty()) return std::nullopt;
  if (!after || after->family() != family_) {
    if (after && after->family() != family_) return std::nullopt;
    return conf::IpAddress::fromInt(family_, intervals_.front().first);
  }
  const absl::uint128 v = after->toInt();
  for (const auto& i : intervals_) {
    if (v < i.first) return conf::IpAddress::fromInt(family_, i.first);
    if (v < i.last) return conf::IpAddress::fromInt(family_, v + 1);
  }
  return std::nullopt;
}

}  // namespace quasar::ipam::floating
