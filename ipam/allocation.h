#pragma once
// What quasard records for one attachment (container, interface).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "conf/ip.h"
#include "conf/net_conf.h"

namespace quasar::ipam {

using conf::Attachment;

struct PodRef {
  std::string namespace_;
  std::string name;
  std::string uid;
  bool operator==(const PodRef&) const = default;
};

struct Allocation {
  Attachment attachment;
  std::string network;
  std::string netns;
  PodRef pod;
  // One address per family, in the order of the node's pod CIDRs.
  std::vector<conf::IpAddress> ips;
  int64_t created_unix_ms = 0;
  // The address source that handed them out (AddressSource): "" for the node's pod-CIDR
  // blocks, e.g. "floating" for the underlay pools.
  std::string source = "";
  bool operator==(const Allocation&) const = default;
};

// What a source other than the blocks needs to know about a request (e.g. the floating source's
// pools, release policy and workload); each source defines its own and casts.
struct SourceRequest {
  virtual ~SourceRequest() = default;
};

struct AllocateRequest {
  Attachment attachment;
  std::string network;
  std::string netns;
  PodRef pod;
  std::vector<conf::IpAddress> requested_ips;
  // Non-zero: the caller's token. The attachment stays claimed by it, also when it already had
  // its allocation, until endClaim(): meanwhile every other allocate() and release() of it is
  // Unavailable and GC passes it by. The plugin's ADD holds it while it builds the interfaces.
  uint64_t claim = 0;
  // The source to take addresses from ("": the pod-CIDR blocks) and its extra input.
  std::string source = "";
  std::shared_ptr<const SourceRequest> source_request = nullptr;
};

struct AllocateResult {
  Allocation allocation;
  bool created = false;
};

}  // namespace quasar::ipam
