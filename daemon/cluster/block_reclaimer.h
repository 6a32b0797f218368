#pragma once
// Gives back pod-CIDR blocks a node no longer needs: a block with no used, held or cooling
// address for longer than the grace period is first removed from the allocator (so nothing can
// be allocated from it any more) and then released in the datastore; if that fails it is added
// back. The node keeps at least one block, so a quiet node does not claim and release the same
// block over and over. Not thread-safe: one caller (quasard's housekeeping thread).

#include <chrono>
#include <map>
#include <set>
#include <vector>

#include "daemon/cluster/block_manager.h"
#include "ipam/address_manager.h"

namespace quasar::daemon {

// Verifies in the datastore that this node still owns every block its allocator hands out
// from, and drops from the allocator those it lost (reclaimed by other nodes while this one was
// gone, see StaleBlockReclaimer): nothing more is handed out from them. Pods still holding
// addresses there keep them (logged as errors: another node may hand them out too). The
// allocator's ranges are read before the datastore, so a block claimed meanwhile is never taken
// for lost. Returns the dropped blocks. Thread-safe.
absl::StatusOr<std::vector<conf::IpPrefix>> dropLostBlocks(BlockManager& blocks,
                                                           ipam::AddressManager& manager);

class BlockReclaimer {
 public:
  BlockReclaimer(ipam::AddressManager& manager, BlockManager& blocks,
                 std::chrono::milliseconds grace)
      : manager_(manager), blocks_(blocks), grace_(grace) {}
  // Returns the blocks given back by this call.
  std::vector<conf::IpPrefix> tick(int64_t now_ms);

 private:
  ipam::AddressManager& manager_;
  BlockManager& blocks_;
  const std::chrono::milliseconds grace_;
  std::map<conf::IpPrefix, int64_t> idle_since_;
  std::set<conf::IpPrefix> kept_;  // idle past the grace but kept as the last block: logged
};

}  // namespace quasar::daemon
