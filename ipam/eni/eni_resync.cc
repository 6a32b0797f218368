// EniPool::resync: the pool's books against what the cloud shows, after an outcome it could not
// know (a lost reply), a refusal its books did not expect, and every kResyncMs (a change made
// behind quasar's back).
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "ipam/eni/eni_pool.h"
#include "spdlog/spdlog.h"

namespace quasar::ipam::eni {
namespace {

// Also without a reason, the cloud is read this often.
constexpr int64_t kResyncMs = 60'000;

}  // namespace

absl::Status EniPool::resync(int64_t now_ms) {
  std::string instance_id;
  std::map<std::string, uint64_t> before;
  {
    std::lock_guard lock(mu_);
    if (last_resync_ms_ < 0) last_resync_ms_ = now_ms;  // start() has just read it
    if (!resync_ && now_ms - last_resync_ms_ < kResyncMs) return absl::OkStatus();
    instance_id = instance_.id;
    for (const auto& [id, s] : slots_) before[id] = s.changes;
  }
  auto nics = cloud_.listInterfaces({.attached_to = instance_id, .tag = std::nullopt});
  if (!nics.ok()) {
    return absl::Status(nics.status().code(), absl::StrCat("re-read the instance's interfaces: ",
                                                           nics.status().message()));
  }
  std::lock_guard lock(mu_);
  last_resync_ms_ = now_ms;
  bool skipped = false;
  int adopted = 0, dropped = 0, lost = 0;
  for (const auto& nic : *nics) {
    auto it = slots_.find(nic.id);
    if (it == slots_.end()) continue;
    Slot& s = it->second;
    // Changed since the read (an assignment or give-back finished, or one is in flight): what
    // the cloud showed may be older than the books. Next pass.
    auto b = before.find(nic.id);
    if (b == before.end() || b->second != s.changes || s.pending > 0 || s.releasing > 0) {
      skipped = true;
      continue;
    }
    const std::set<conf::IpAddress> cloud(nic.secondary_ips.begin(), nic.secondary_ips.end());
    for (const auto& ip : s.uncertain) {
      if (cloud.count(ip)) {
        s.free.insert(ip);
      } else {
        ++dropped;
      }
    }
    s.uncertain.clear();
    for (auto f = s.free.begin(); f != s.free.end();) {
      if (cloud.count(*f)) {
        ++f;
      } else {
        f = s.free.erase(f);
        ++dropped;
      }
    }
    for (auto c = s.cooling.begin(); c != s.cooling.end();) {
      if (cloud.count(c->first)) {
        ++c;
      } else {
        c = s.cooling.erase(c);
        ++dropped;
      }
    }
    // A pod's address the cloud took back: that pod keeps it, nobody else gets it (start()'s
    // rule for the same case).
    for (auto u = s.used.begin(); u != s.used.end();) {
      if (cloud.count(*u)) {
        ++u;
      } else {
        lost_.insert(*u);
        u = s.used.erase(u);
        ++lost;
      }
    }
    // Assigned by a call whose reply was lost: the pool's now.
    for (const auto& ip : cloud) {
      if (s.free.count(ip) || s.used.count(ip) || s.held.count(ip) || s.cooling.count(ip)) {
        continue;
      }
      if (lost_.erase(ip) > 0) {
        s.used.insert(ip);  // the old pod's again
      } else {
        s.free.insert(ip);
        ++adopted;
      }
    }
    ++s.changes;
  }
  resync_ = skipped;
  if (adopted + dropped + lost > 0) {
    spdlog::info("event=eni-resynced adopted={} dropped={} lost={}", adopted, dropped, lost);
  }
  return absl::OkStatus();
}

}  // namespace quasar::ipam::eni
