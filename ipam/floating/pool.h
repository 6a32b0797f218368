#pragma once
// A floating-IP pool as the allocator sees it: addresses on a physical subnet that pods may take
// whichever node they run on, provided the pool serves that node (issue 13). The daemon builds
// these from quasar.io/v1 FloatingIPPool objects (daemon/cluster/objects/floating_ip_pool.h);
// ipam/ knows nothing of that schema.
//
// Pure values; thread-compatible.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "conf/ip.h"

namespace quasar::ipam::floating {

// first..last inclusive, one family.
struct IpRange {
  conf::IpAddress first;
  conf::IpAddress last;
  bool contains(const conf::IpAddress& a) const { return first <= a && a <= last; }
  bool operator==(const IpRange&) const = default;
};

enum class Mode { kVeth, kMacvlan };

// What a pool needs to know of a node to decide whether it serves it.
struct NodeFacts {
  std::string name;
  std::vector<conf::IpAddress> addresses;  // the node's underlay addresses
  std::map<std::string, std::string> labels;
};

struct Pool {
  std::string name;
  conf::IpPrefix subnet;
  std::optional<conf::IpAddress> gateway;
  std::vector<IpRange> ranges;                       // handed out ...
  std::vector<IpRange> exclude;                      // ... except these
  int32_t vlan = 0;                                  // 0: untagged
  std::vector<conf::IpPrefix> node_subnets;          // empty: any node address
  std::map<std::string, std::string> node_selector;  // matchLabels; empty: every node
  std::optional<int64_t> max_allocated;              // addresses in use at most
  Mode mode = Mode::kVeth;

  // True when node_subnets is empty or one of them holds an address of the node, and the node
  // carries every label of node_selector.
  bool serves(const NodeFacts& node) const;
  bool operator==(const Pool&) const = default;
};

// The addresses a pool hands out: its ranges (clipped to the subnet) minus exclude, minus the
// subnet's network and broadcast addresses (IPv4 up to /30; IPv6: the network address, the
// subnet-router anycast) and the gateway. Held as sorted disjoint intervals, so a /16 range
// costs no memory. Immutable after construction; thread-safe to read.
class Candidates {
 public:
  explicit Candidates(const Pool& pool);

  bool contains(const conf::IpAddress& a) const;
  // Number of addresses, saturated at 2^64-1.
  uint64_t size() const;
  // The smallest candidate greater than `after` (nullopt: the first); nullopt at the end.
  std::optional<conf::IpAddress> next(const std::optional<conf::IpAddress>& after) const;

 private:
  struct Interval {
    absl::uint128 first;
    absl::uint128 last;
  };
  conf::Family family_ = conf::Family::kV4;
  std::vector<Interval> intervals_;  // sorted, disjoint, not adjacent
};

}  // namespace quasar::ipam::floating
