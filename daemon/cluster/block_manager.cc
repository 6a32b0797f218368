#include "daemon/cluster/block_manager.h"

#include <spdlog/spdlog.h>

#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "conf/json_parse.h"
#include "daemon/cluster/cluster_keys.h"
#include "nlohmann/json.hpp"

namespace quasar::daemon {

BlockManager::BlockManager(Store& store, std::string node, conf::IpPrefix cluster_cidr,
                           int block_length)
    : store_(store),
      node_(std::move(node)),
      cluster_(cluster_cidr.network()),
      block_length_(block_length) {}

uint64_t BlockManager::blockCount() const {
  const int bits = block_length_ - cluster_.length();
  return bits >= 63 ? (uint64_t{1} << 62) : (uint64_t{1} << bits);
}

conf::IpPrefix BlockManager::blockAt(uint64_t index) const {
  const absl::uint128 size = conf::IpPrefix(cluster_.address(), block_length_).size();
  return conf::IpPrefix(cluster_.at(size * index), block_length_);
}

absl::StatusOr<std::vector<conf::IpPrefix>> BlockManager::owned() {
  auto blocks = store_.list(keys::kBlocks);
  if (!blocks.ok()) return blocks.status();
  std::vector<conf::IpPrefix> out;
  for (const auto& kv : blocks->kvs) {
    auto j = conf::parseJson(kv.value);
    auto p = keys::parseBlock(kv.key);
    if (p && j.ok() && j->is_object() && j->value("node", "") == node_ &&
        cluster_.contains(p->address())) {
      out.push_back(*p);
    }
  }
  return out;
}

absl::StatusOr<bool> BlockManager::holds(const std::string& key, const std::string& value) {
  auto kv = store_.get(key);
  if (!kv.ok()) return kv.status();
  return kv->has_value() && (*kv)->value == value;
}

absl::StatusOr<conf::IpPrefix> BlockManager::claim() {
  {
    // An earlier claim that may have committed: adopt its block before claiming another.
    std::lock_guard lock(mu_);
    for (auto it = unsettled_.begin(); it != unsettled_.end();) {
      auto ours = holds(keys::block(it->block), it->value);
      if (!ours.ok()) {
        ++it;
        continue;
      }
      if (*ours) {
        const conf::IpPrefix block = it->block;
        unsettled_.erase(it);
        spdlog::info("event=block-claim-settled node={} block={} outcome=committed", node_,
                     block.toString());
        return block;
      }
      it = unsettled_.erase(it);
    }
  }
  auto blocks = store_.list(keys::kBlocks);
  if (!blocks.ok()) return blocks.status();
  std::set<std::string> taken;
  for (const auto& kv : blocks->kvs) taken.insert(kv.key);
  const uint64_t count = blockCount();
  // Nodes start their search at different places, so a fleet booting at once rarely races for
  // the same block; a lost race just moves on to the next one.
  const uint64_t start = std::hash<std::string>{}(node_) % count;
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::string value =
      nlohmann::json{{"node", node_}, {"claim", absl::StrCat(absl::Hex(rng(), absl::kZeroPad16))}}
          .dump();
  for (uint64_t i = 0; i < count; ++i) {
    const conf::IpPrefix candidate = blockAt((start + i) % count);
    const std::string key = keys::block(candidate);
    if (taken.contains(key)) continue;
    auto r = store_.txn({Compare::absent(key)}, {Op::put(key, value)}, {Op::get(key)});
    if (r.ok()) {
      if (r->succeeded) return candidate;
      // Present: another node's, or this very claim's when the request was retried after its
      // first attempt committed.
      if (r->gets.size() == 1 && r->gets[0].size() == 1 && r->gets[0][0].value == value) {
        return candidate;
      }
      continue;
    }
    // The outcome is unknown: read the key back. Not there (yet: etcd may still apply a
    // request that timed out) or not readable: the next claim looks again.
    auto ours = holds(key, value);
    if (ours.ok() && *ours) return candidate;
    std::lock_guard lock(mu_);
    unsettled_.push_back({candidate, value});
    return r.status();
  }
  return absl::ResourceExhaustedError(absl::StrCat("cluster CIDR ", cluster_.toString(),
                                                   " has no free /", block_length_, " block: all ",
                                                   count, " are claimed"));
}

absl::Status BlockManager::release(const conf::IpPrefix& block) {
  const std::string key = keys::block(block);
  auto kv = store_.get(key);
  if (!kv.ok()) return kv.status();
  const auto j =
      kv->has_value() ? nlohmann::json::parse((*kv)->value, nullptr, false) : nlohmann::json();
  if (!j.is_object() || j.value("node", "") != node_) {
    return absl::FailedPreconditionError(
        absl::StrCat(block.toString(), " is not owned by ", node_));
  }
  // Deleted only if unchanged since it was read: still this node's, under this very claim.
  auto r = store_.txn({Compare::modRevisionIs(key, (*kv)->mod_revision)}, {Op::del(key)}, {});
  if (!r.ok()) return r.status();
  if (!r->succeeded) {
    return absl::FailedPreconditionError(
        absl::StrCat(block.toString(), " changed while ", node_, " gave it back"));
  }
  return absl::OkStatus();
}

}  // namespace quasar::daemon
