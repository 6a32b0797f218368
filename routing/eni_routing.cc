#include "routing/eni_routing.h"

#include <linux/rtnetlink.h>

#include <algorithm>
#include <tuple>

namespace quasar::routing {
namespace {

Rule toPod(const conf::IpAddress& ip) {
  Rule r;
  r.family = ip.family();
  r.priority = kToPodRulePriority;
  r.dst = conf::IpPrefix::host(ip);
  r.table = RT_TABLE_MAIN;
  return r;
}

Rule fromEni(const conf::IpAddress& ip, int device_index) {
  Rule r;
  r.family = ip.family();
  r.priority = kFromEniRulePriority;
  r.src = conf::IpPrefix::host(ip);
  r.table = eniTable(device_index);
  return r;
}

auto sortKey(const Rule& r) { return std::tie(r.priority, r.family, r.dst, r.src, r.table); }

}  // namespace

conf::IpAddress subnetRouter(const conf::IpPrefix& subnet) { return subnet.network().at(1); }

std::vector<Route> planEniTableRoutes(const EniSpec& eni, int ifindex) {
  const uint32_t table = eniTable(eni.device_index);
  Route subnet;
  subnet.dst = eni.primary.network();
  subnet.ifindex = ifindex;
  subnet.scope = RT_SCOPE_LINK;
  subnet.table = table;
  subnet.protocol = kNodeRouteProtocol;
  subnet.source = eni.primary.address();
  Route def;
  def.dst = conf::IpPrefix(conf::IpAddress::fromInt(eni.primary.family(), 0), 0);
  def.gateway = subnetRouter(eni.primary);
  def.ifindex = ifindex;
  def.table = table;
  def.protocol = kNodeRouteProtocol;
  return {subnet, def};
}

std::vector<Rule> planEniRules(const std::vector<EniSpec>& enis,
                               const std::vector<EniPodAddress>& pods) {
  std::vector<Rule> out;
  for (const auto& eni : enis) {
    if (eni.device_index > 0) out.push_back(fromEni(eni.primary.address(), eni.device_index));
  }
  for (const auto& pod : pods) {
    out.push_back(toPod(pod.ip));
    if (pod.device_index > 0) out.push_back(fromEni(pod.ip, pod.device_index));
  }
  std::sort(out.begin(), out.end(),
            [](const Rule& a, const Rule& b) { return sortKey(a) < sortKey(b); });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace quasar::routing
