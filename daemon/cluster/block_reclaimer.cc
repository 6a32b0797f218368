#include "daemon/cluster/block_reclaimer.h"

#include <spdlog/spdlog.h>

#include <set>

#include "absl/strings/str_join.h"

namespace quasar::daemon {

absl::StatusOr<std::vector<conf::IpPrefix>> dropLostBlocks(BlockManager& blocks,
                                                           ipam::AddressManager& manager) {
  const auto pools = manager.stats();
  auto owned = blocks.owned();
  if (!owned.ok()) return owned.status();
  const std::set<conf::IpPrefix> mine(owned->begin(), owned->end());
  std::vector<conf::IpPrefix> lost;
  for (const auto& p : pools) {
    if (mine.contains(p.cidr) || !blocks.clusterCidr().contains(p.cidr.address())) continue;
    auto held = manager.dropRange(p.cidr);
    if (!held.ok()) continue;  // given back meanwhile
    lost.push_back(p.cidr);
    std::vector<std::string> ips;
    for (const auto& ip : *held) ips.push_back(ip.toString());
    if (ips.empty()) {
      spdlog::warn("event=block-lost block={} in_use=0", p.cidr.toString());
    } else {
      spdlog::error(
          "event=block-lost block={} in_use={} ips={} detail=\"this node's pods keep addresses of "
          "a block reclaimed while the node was gone; another node may hand them out\"",
          p.cidr.toString(), ips.size(), absl::StrJoin(ips, ","));
    }
  }
  return lost;
}

std::vector<conf::IpPrefix> BlockReclaimer::tick(int64_t now_ms) {
  std::vector<conf::IpPrefix> released;
  const auto pools = manager_.stats();
  size_t remaining = pools.size();
  std::map<conf::IpPrefix, int64_t> still_idle;
  for (const auto& p : pools) {
    if (p.stats.used != 0 || p.stats.cooling != 0) continue;
    const int64_t since = idle_since_.contains(p.cidr) ? idle_since_[p.cidr] : now_ms;
    still_idle[p.cidr] = since;
    if (now_ms - since < grace_.count()) continue;
    if (remaining <= 1) {
      // Said once per idle stretch, so a test (or an operator) sees the decision was made.
      if (kept_.insert(p.cidr).second) {
        spdlog::info("event=block-kept block={} idle_ms={} reason=last-block", p.cidr.toString(),
                     now_ms - since);
      }
      continue;
    }
    if (!manager_.removeRangeIfIdle(p.cidr).ok()) continue;  // used again meanwhile
    if (auto s = blocks_.release(p.cidr); !s.ok()) {
      spdlog::warn("event=block-release-failed block={} error=\"{}\"", p.cidr.toString(),
                   std::string(s.message()));
      // Not this node's any more (reclaimed while it was gone): it must not come back.
      if (!absl::IsFailedPrecondition(s)) manager_.addRange(p.cidr);
      continue;
    }
    spdlog::info("event=block-released block={} idle_ms={}", p.cidr.toString(), now_ms - since);
    still_idle.erase(p.cidr);
    released.push_back(p.cidr);
    --remaining;
  }
  std::erase_if(kept_, [&](const conf::IpPrefix& b) { return !still_idle.contains(b); });
  idle_since_ = std::move(still_idle);
  return released;
}

}  // namespace quasar::daemon
