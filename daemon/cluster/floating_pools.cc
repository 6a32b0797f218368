#include "daemon/cluster/floating_pools.h"

namespace quasar::daemon {

namespace fl = ipam::floating;

namespace {

std::vector<fl::IpRange> ranges(const std::vector<objects::IpRange>& in) {
  std::vector<fl::IpRange> out;
  out.reserve(in.size());
  for (const auto& r : in) out.push_back({r.first, r.last});
  return out;
}

}  // namespace

fl::Pool toFloatingPool(const objects::FloatingIPPool& object) {
  const auto& spec = object.spec;
  fl::Pool p;
  p.name = object.metadata.name;
  p.subnet = spec.subnet;
  p.gateway = spec.gateway;
  p.ranges = ranges(spec.ranges);
  p.exclude = ranges(spec.exclude);
  p.vlan = spec.vlan;
  p.node_subnets = spec.node_subnets;
  p.node_selector = spec.node_selector.match_labels;
  p.max_allocated = spec.max_allocated;
  p.mode = spec.mode == objects::FloatingIPMode::kMacvlan ? fl::Mode::kMacvlan : fl::Mode::kVeth;
  return p;
}

fl::NodeFacts toNodeFacts(const objects::Node& node) {
  return {node.metadata.name, node.internalIps(), node.metadata.labels};
}

}  // namespace quasar::daemon
