#include "daemon/cluster/stale_block_reclaimer.h"

#include <spdlog/spdlog.h>

#include <set>

#include "daemon/cluster/cluster_keys.h"
#include "nlohmann/json.hpp"

namespace quasar::daemon {
namespace {

Op getPrefix(const std::string& prefix) {
  Op op = Op::get(prefix);
  op.prefix = true;
  return op;
}

}  // namespace

absl::StatusOr<std::vector<conf::IpPrefix>> StaleBlockReclaimer::tick(int64_t now_ms) {
  // Blocks, liveness and records read at one revision.
  auto snap = store_.txn(
      {}, {getPrefix(keys::kBlocks), getPrefix(keys::kLive), getPrefix(keys::kNodes)}, {});
  if (!snap.ok()) return snap.status();
  if (snap->gets.size() != 3) return absl::InternalError("datastore snapshot: missing ranges");
  std::map<std::string, std::vector<KeyValue>> blocks_of;
  for (auto& kv : snap->gets[0]) {
    auto j = nlohmann::json::parse(kv.value, nullptr, false);
    if (!keys::parseBlock(kv.key) || !j.is_object()) continue;
    const std::string owner = j.value("node", "");
    if (!owner.empty()) blocks_of[owner].push_back(std::move(kv));
  }
  std::set<std::string> live;
  for (const auto& kv : snap->gets[1]) live.insert(kv.key.substr(sizeof(keys::kLive) - 1));
  std::map<std::string, int64_t> record_revision;
  for (const auto& kv : snap->gets[2]) {
    record_revision[kv.key.substr(sizeof(keys::kNodes) - 1)] = kv.mod_revision;
  }

  std::vector<conf::IpPrefix> reclaimed;
  std::map<std::string, Gone> still_gone;
  for (const auto& [owner, kvs] : blocks_of) {
    if (owner == self_ || live.contains(owner)) continue;
    const auto rec = record_revision.find(owner);
    const int64_t revision = rec == record_revision.end() ? 0 : rec->second;
    Gone gone{revision, now_ms};
    // The grace runs on only while the node has not registered again since it was first seen
    // gone; a registration rewrites its record.
    if (auto it = gone_.find(owner); it != gone_.end() && it->second.record_revision == revision) {
      gone = it->second;
    }
    still_gone[owner] = gone;
    if (now_ms - gone.since_ms <= grace_.count()) continue;
    for (const auto& kv : kvs) {
      std::vector<Compare> compares{Compare::modRevisionIs(kv.key, kv.mod_revision),
                                    Compare::absent(keys::live(owner))};
      compares.push_back(revision == 0 ? Compare::absent(keys::node(owner))
                                       : Compare::modRevisionIs(keys::node(owner), revision));
      auto r = store_.txn(compares, {Op::del(kv.key)}, {});
      if (!r.ok()) {
        spdlog::warn("event=block-reclaim-failed block={} node={} error=\"{}\"", kv.key, owner,
                     std::string(r.status().message()));
        continue;
      }
      if (!r->succeeded) continue;  // another node reclaimed it, or the owner came back
      const auto block = keys::parseBlock(kv.key);
      spdlog::warn("event=block-reclaimed block={} node={} gone_ms={} by={}", block->toString(),
                   owner, now_ms - gone.since_ms, self_);
      reclaimed.push_back(*block);
    }
  }
  gone_ = std::move(still_gone);
  return reclaimed;
}

}  // namespace quasar::daemon
