#include "daemon/cluster/pod_address_overlay.h"

namespace quasar::daemon {

using nlohmann::json;

void PodAddressOverlay::put(PodAddresses record, int64_t revision) {
  auto& by_node = records_[{record.namespace_, record.name}];
  const std::string node = record.node;
  by_node[node] = Record{std::move(record), revision};
}

void PodAddressOverlay::erase(const std::string& node, const std::string& namespace_,
                              const std::string& name) {
  auto it = records_.find({namespace_, name});
  if (it == records_.end()) return;
  it->second.erase(node);
  if (it->second.empty()) records_.erase(it);
}

int64_t PodAddressOverlay::apply(json& pod, const std::string& namespace_, const std::string& name,
                                 const std::string& explicit_uid) const {
  auto it = records_.find({namespace_, name});
  if (it == records_.end() || !pod.is_object()) return 0;
  std::string node_name;
  if (auto spec = pod.find("spec"); spec != pod.end() && spec->is_object()) {
    if (auto n = spec->find("nodeName"); n != spec->end() && n->is_string()) {
      node_name = n->get<std::string>();
    }
  }
  const Record* best = nullptr;
  for (const auto& [node, r] : it->second) {
    if (!explicit_uid.empty() && !r.addresses.uid.empty() && r.addresses.uid != explicit_uid) {
      continue;
    }
    if (!node_name.empty() && node == node_name) {
      best = &r;
      break;
    }
    if (best == nullptr || r.revision > best->revision) best = &r;
  }
  if (best == nullptr) return 0;
  json ips = json::array();
  for (const auto& ip : best->addresses.ips) ips.push_back({{"ip", ip}});
  json& status = pod["status"];
  if (!status.is_object()) status = json::object();
  status["podIPs"] = std::move(ips);
  if (best->addresses.ips.empty()) {
    status.erase("podIP");
  } else {
    status["podIP"] = best->addresses.ips.front();
  }
  if (node_name.empty()) {
    json& spec = pod["spec"];
    if (spec.is_object()) spec["nodeName"] = best->addresses.node;
  }
  return best->revision;
}

}  // namespace quasar::daemon
