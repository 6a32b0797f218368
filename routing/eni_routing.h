#pragma once
// ENI mode's data path on the node, as pure planning (no I/O, unit-tested): a pod holds a
// secondary address of one of the node's elastic network interfaces (ENIs). The plugin gives the
// pod that address as /32 with a default route via 169.254.1.1, and the node a /32 route to the
// pod's veth in the main table, as in every other mode (pod_link.h). What ENI mode adds is that a
// pod's traffic must leave by the ENI that owns its address (the VPC drops a packet whose source
// it did not assign to the interface it came from), so every secondary ENI gets a route table of
// its own and policy rules send the pods' traffic there:
//
//   pref kToPodRulePriority    to <pod>/32 lookup main             every ENI pod
//   pref kFromEniRulePriority  from <pod>/32 lookup <ENI's table>  pods of secondary ENIs
//   pref kFromEniRulePriority  from <ENI primary>/32 lookup <ENI's table>
//   table <ENI's table>: <subnet> dev <ENI> scope link src <ENI primary>
//                        default via <subnet's router> dev <ENI>
//
// The "to" rule comes first so that traffic to a pod (from the node, another pod, or arriving
// from the VPC) is delivered by the main table's /32 route and never follows the sender's
// "from" rule out of an ENI. The primary ENI (device index 0) has no table: its pods' traffic
// follows the main table's default route, which leaves by it. The rule for an ENI's own primary
// address makes the node answer for it (ARP, reverse-path checks) by the ENI too, whether or not
// the main table has a route to the ENI's subnet (it has none from us: the address is added
// without its prefix route, so two ENIs on one subnet do not compete in the main table).

#include <cstdint>
#include <vector>

#include "conf/ip.h"
#include "conf/net_conf.h"
#include "routing/policy_rule.h"
#include "routing/rtnl.h"

namespace quasar::routing {

// Rule priorities quasar owns: [kRulePriorityFirst, kRulePriorityLast]. The rule reconciler
// removes rules of protocol kRuleProtocol in this range that are not planned, and nothing else.
// Chosen clear of the rules others install: the kernel's 0 (local), 32766 (main) and 32767
// (default); the AWS VPC CNI's 512 (to pod) and 1536 (from pod) and Terway's 512/2048; Calico's
// 99; Cilium's 9-112; Tailscale's 5210-5270; wg-quick's 32764/32765. It sits below 32766 because
// a rule only takes effect ahead of the main table's.
inline constexpr uint32_t kRulePriorityFirst = 20000;
inline constexpr uint32_t kRulePriorityLast = 20999;
inline constexpr uint32_t kToPodRulePriority = 20100;
inline constexpr uint32_t kFromEniRulePriority = 20200;

// An ENI's route table is kEniTableBase + its device index (EC2's attachment index, stable while
// it is attached): past the 1-255 that iproute2's names, Calico (1-250) and the AWS VPC CNI
// (device index + 1) use, and past Cilium's 10 + interface number; one number a person can map
// back to the interface (`ip route show table 10001` is device index 1).
inline constexpr uint32_t kEniTableBase = 10000;
inline uint32_t eniTable(int device_index) {
  return kEniTableBase + static_cast<uint32_t>(device_index);
}

// One attached ENI as the node configures it.
struct EniSpec {
  conf::Mac mac{};         // how its link is found (names differ between clouds and images)
  int device_index = 0;    // 0 is the primary ENI, which quasar never configures
  conf::IpPrefix primary;  // its primary address with the subnet's length: 10.90.1.10/24
  int mtu = 0;             // 0: leave as it is (EC2's jumbo frames: 9001)
  // Loose reverse-path filtering (net.ipv4.conf.<ENI>.rp_filter=2; the kernel applies the
  // larger of this and conf.all): a reply to a pod whose "from" rule is not installed yet, or
  // to an address the main table routes elsewhere, is not dropped for arriving on this ENI.
  // Images that set conf.all.rp_filter=1 (Amazon Linux) would drop it. nullopt: unchanged.
  std::optional<int> rp_filter = 2;
};

// The subnet's router: its first address + 1 (EC2's convention).
conf::IpAddress subnetRouter(const conf::IpPrefix& subnet);

// The routes of the ENI's table (link `ifindex`), subnet route first: the kernel checks the
// default route's gateway against the routes of the table it goes into.
std::vector<Route> planEniTableRoutes(const EniSpec& eni, int ifindex);

// A pod address and the device index of the ENI that owns it.
struct EniPodAddress {
  conf::IpAddress ip;
  int device_index = 0;
};

// The rules above for `enis` (their "from primary" rules; the primary ENI has none) and `pods`,
// sorted by priority then address, without duplicates. IPv6 pod addresses get /128 rules.
std::vector<Rule> planEniRules(const std::vector<EniSpec>& enis,
                               const std::vector<EniPodAddress>& pods);

}  // namespace quasar::routing
