#pragma once
// quasar.io/v1 FloatingIPPool (cluster-scoped): addresses on a physical subnet handed to pods
// that ask for them by annotation (issue 13). Here: the schema and its validation only.
//
//   apiVersion: quasar.io/v1
//   kind: FloatingIPPool
//   metadata: {name: gpu-underlay}
//   spec:
//     subnet: 10.20.0.0/24
//     gateway: 10.20.0.1
//     ranges: ["10.20.0.100-10.20.0.199"]
//     exclude: ["10.20.0.150"]
//     vlan: 0                      # 0: untagged
//     nodeSubnets: ["10.20.0.0/24"]
//     nodeSelector: {nvidia.com/gpu.present: "true"}
//     maxAllocated: 80
//     mode: veth                   # or macvlan
//
// Pure values; thread-compatible.

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "daemon/cluster/objects/meta.h"
#include "nlohmann/json.hpp"

namespace quasar::objects {

// first..last inclusive, one family, first <= last.
struct IpRange {
  conf::IpAddress first;
  conf::IpAddress last;
  bool contains(const conf::IpAddress& a) const { return first <= a && a <= last; }
  bool operator==(const IpRange&) const = default;
};

enum class FloatingIPMode { kVeth, kMacvlan };

struct FloatingIPPoolSpec {
  conf::IpPrefix subnet;                     // a network address (no host bits)
  std::optional<conf::IpAddress> gateway;    // inside subnet
  std::vector<IpRange> ranges;               // "a-b" or "a"; at least one; inside subnet
  std::vector<IpRange> exclude;              // "a-b" or "a"; inside subnet
  int32_t vlan = 0;                          // 0: untagged, else [1, 4094]
  std::vector<conf::IpPrefix> node_subnets;  // nodes with an address in one of these
  LabelSelector node_selector;  // matchLabels only (written as a plain map); {}: every node
  std::optional<int64_t> max_allocated;  // >= 1; nullopt: no limit
  FloatingIPMode mode = FloatingIPMode::kVeth;
  bool operator==(const FloatingIPPoolSpec&) const = default;
};

struct FloatingIPPool {
  ObjectMeta metadata;
  FloatingIPPoolSpec spec;
  bool operator==(const FloatingIPPool&) const = default;
};

// InvalidArgument naming the object and the field; never throws.
absl::StatusOr<FloatingIPPool> parseFloatingIPPool(const nlohmann::json& j);

}  // namespace quasar::objects
