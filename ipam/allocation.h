#pragma once
// What quasard records for one attachment (container, interface).

#include <cstdint>
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
  bool operator==(const Allocation&) const = default;
};

}  // namespace quasar::ipam
