#pragma once
// Pod-CIDR blocks: the cluster CIDR cut into blocks (default /26) that nodes claim exclusively.
// A claim is a compare-and-swap on the block's key (create if absent), so two nodes can never
// own the same block, however they race. Allocations inside a block stay node-local (SQLite):
// blocks are exclusive, so an ADD never waits on the datastore while its node has a free
// address. Thread-safe (the Store is).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "daemon/store.h"

namespace quasar::daemon {

class BlockManager {
 public:
  BlockManager(Store& store, std::string node, conf::IpPrefix cluster_cidr, int block_length);

  // The blocks this node owns, from the datastore.
  absl::StatusOr<std::vector<conf::IpPrefix>> owned();
  // Claims a free block. ResourceExhausted when every block of the cluster CIDR is claimed.
  absl::StatusOr<conf::IpPrefix> claim();
  // Gives a block back; only if this node still owns it.
  absl::Status release(const conf::IpPrefix& block);

  uint64_t blockCount() const;
  conf::IpPrefix blockAt(uint64_t index) const;

 private:
  Store& store_;
  const std::string node_;
  const conf::IpPrefix cluster_;
  const int block_length_;
};

}  // namespace quasar::daemon
