#include "daemon/block_manager.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "conf/json_parse.h"
#include "daemon/cluster_keys.h"
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

absl::StatusOr<conf::IpPrefix> BlockManager::claim() {
  auto blocks = store_.list(keys::kBlocks);
  if (!blocks.ok()) return blocks.status();
  std::set<std::string> taken;
  for (const auto& kv : blocks->kvs) taken.insert(kv.key);
  const uint64_t count = blockCount();
  // Nodes start their search at different places, so a fleet booting at once rarely races for
  // the same block; a lost race just moves on to the next one.
  const uint64_t start = std::hash<std::string>{}(node_) % count;
  const std::string value = nlohmann::json{{"node", node_}}.dump();
  for (uint64_t i = 0; i < count; ++i) {
    const conf::IpPrefix candidate = blockAt((start + i) % count);
    const std::string key = keys::block(candidate);
    if (taken.contains(key)) continue;
    auto r = store_.txn({Compare::absent(key)}, {Op::put(key, value)}, {});
    if (!r.ok()) return r.status();
    if (r->succeeded) return candidate;
  }
  return absl::ResourceExhaustedError(absl::StrCat("cluster CIDR ", cluster_.toString(),
                                                   " has no free /", block_length_, " block: all ",
                                                   count, " are claimed"));
}

absl::Status BlockManager::release(const conf::IpPrefix& block) {
  const std::string key = keys::block(block);
  auto r = store_.txn({Compare::valueIs(key, nlohmann::json{{"node", node_}}.dump())},
                      {Op::del(key)}, {});
  if (!r.ok()) return r.status();
  if (!r->succeeded) {
    return absl::FailedPreconditionError(
        absl::StrCat(block.toString(), " is not owned by ", node_));
  }
  return absl::OkStatus();
}

}  // namespace quasar::daemon
