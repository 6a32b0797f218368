#pragma once
// Pod-CIDR blocks: the cluster CIDR cut into blocks (default /26) that nodes claim exclusively.
// A claim is a compare-and-swap on the block's key (create if absent), so two nodes can never
// own the same block, however they race. Allocations inside a block stay node-local (SQLite):
// blocks are exclusive, so an ADD never waits on the datastore while its node has a free
// address.
//
// A claim is idempotent: its value names the node and a random claim id, so an attempt whose
// outcome is unknown (a timeout: the commit may or may not have happened; a retry that finds
// the key already there) is settled by reading the key back: if it holds this claim, the block
// is ours. A claim whose outcome cannot be read at all is remembered and checked again by the
// next claim(), which adopts the block if the commit did happen.
// Thread-safe (the Store is; the remembered claims are under a mutex).

#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "daemon/store/store.h"

namespace quasar::daemon {

class BlockManager {
 public:
  BlockManager(Store& store, std::string node, conf::IpPrefix cluster_cidr, int block_length);

  // The blocks this node owns, from the datastore.
  absl::StatusOr<std::vector<conf::IpPrefix>> owned();
  // Claims a free block. ResourceExhausted when every block of the cluster CIDR is claimed.
  absl::StatusOr<conf::IpPrefix> claim();
  // Gives a block back; only if this node still owns it (FailedPrecondition otherwise).
  absl::Status release(const conf::IpPrefix& block);

  const conf::IpPrefix& clusterCidr() const { return cluster_; }
  uint64_t blockCount() const;
  conf::IpPrefix blockAt(uint64_t index) const;

 private:
  struct Unsettled {
    conf::IpPrefix block;
    std::string value;  // what the claim wrote, if it committed
  };
  // Reads `key` back after an attempt with an unknown outcome: true when it holds `value`.
  absl::StatusOr<bool> holds(const std::string& key, const std::string& value);

  Store& store_;
  const std::string node_;
  std::mutex mu_;
  std::vector<Unsettled> unsettled_;  // claims whose outcome is not known yet
  const conf::IpPrefix cluster_;
  const int block_length_;
};

}  // namespace quasar::daemon
