#include "daemon/cluster/node_directory.h"

#include "daemon/cluster/objects/node.h"

namespace quasar::daemon {

std::vector<NodeView> NodeObjectDirectory::nodes() const {
  std::vector<NodeView> out;
  for (const auto& n : view_.list<objects::Node>()) {
    NodeView v;
    v.record.name = n->metadata.name;
    v.record.labels = n->metadata.labels;
    const auto& a = n->metadata.annotations;
    if (auto it = a.find(kNodeIpAnnotation);
        it != a.end() && conf::IpAddress::parse(it->second).ok()) {
      v.record.ip = it->second;
    } else if (const auto ips = n->internalIps(); !ips.empty()) {
      v.record.ip = ips.front().toString();
    }
    if (auto it = a.find(kNodeSubnetAnnotation); it != a.end()) v.record.subnet = it->second;
    for (const auto& c : n->pod_cidrs) {
      if (c.family() == conf::Family::kV4) v.blocks.push_back(c.network());
    }
    // A node without an address cannot be routed to; the planner skips those not ready.
    v.ready = !v.record.ip.empty();
    out.push_back(std::move(v));
  }
  return out;
}

std::shared_ptr<void> NodeObjectDirectory::onChange(std::function<void()> changed) {
  return std::make_shared<ObjectView::Subscription>(view_.subscribe(
      {objects::Kind::kNode},
      [changed = std::move(changed)](const std::vector<ObjectEvent>&) { changed(); }));
}

}  // namespace quasar::daemon
