// ENI mode's node data path against the real kernel, in namespaces of the test's own (all
// unshared; they go with the test, also when it fails; ctest runs it in one more namespace):
//   vpc   the "VPC router": wires r1 (10.90.1.1/24) and r2 (10.90.2.1/24) to the node's two
//         ENIs, the "VPC host" 10.91.0.10 on its loopback, a route to each pod address via its
//         ENI's primary address (the VPC delivers a secondary address to the ENI that holds it)
//         and strict reverse-path filtering: a pod's packet that leaves by the wrong ENI is
//         dropped there, as the VPC drops it.
//   node  the ENIs, named as no cloud would (found by MAC): "ens5" (device index 1,
//         10.90.1.10/24) and "enp0s6" (device index 2, 10.90.2.10/24); a main-table default
//         route via ENI 2, so pod 1's traffic leaves by ENI 1 only through its rule; strict
//         rp_filter on conf.all, as Amazon Linux has it.
//   pod1  10.90.1.21 (a secondary address of ENI 1), pod2 10.90.2.22 (ENI 2), built by
//         PodLinkBuilder as the plugin does.

#include <linux/fib_rules.h>

#include <algorithm>
#include <chrono>

#include "gtest/gtest.h"
#include "routing/eni_interface.h"
#include "routing/pod_link.h"
#include "routing/rule_reconciler.h"
#include "routing/sysctl.h"
#include "routing/underlay_testing.h"

namespace quasar::routing {
namespace {

using namespace std::chrono_literals;
using testing::dupFd;
using testing::firstAnsweredPing;
using testing::socketIn;
using testing::unsharedNamespace;

conf::IpAddress ip(const char* text) { return *conf::IpAddress::parse(text); }
conf::IpPrefix prefix(const char* text) { return *conf::IpPrefix::parse(text); }

const conf::IpAddress kPod1 = ip("10.90.1.21");
const conf::IpAddress kPod2 = ip("10.90.2.22");
const conf::IpAddress kVpcHost = ip("10.91.0.10");
const EniSpec kEni1{.mac = {0x0e, 0x51, 0, 0, 1, 5},
                    .device_index = 1,
                    .primary = prefix("10.90.1.10/24"),
                    .mtu = 9001};
const EniSpec kEni2{
    .mac = {0x0e, 0x51, 0, 0, 2, 6}, .device_index = 2, .primary = prefix("10.90.2.10/24")};

// The route the kernel picks (RTM_GETROUTE, as `ip route get <dst> from <src> iif <dev>`).
absl::StatusOr<RouteInfo> routeGet(NetlinkSocket& sock, const conf::IpAddress& dst,
                                   const conf::IpAddress& src, int iif) {
  NlMessage m(RTM_GETROUTE, 0);
  auto* rtm = m.putHeader<rtmsg>();
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = 32;
  rtm->rtm_src_len = 32;
  rtm->rtm_flags = RTM_F_LOOKUP_TABLE;  // report the table the route came from
  m.putBytes(RTA_DST, dst.data(), 4);
  m.putBytes(RTA_SRC, src.data(), 4);
  m.putU32(RTA_IIF, static_cast<uint32_t>(iif));
  std::optional<RouteInfo> got;
  auto s = sock.request(m, "route get", [&](const nlmsghdr* nlh) { got = parseRoute(nlh); });
  if (!s.ok()) return s;
  if (!got) return absl::NotFoundError("route get: no answer");
  return *got;
}

// Packets received by link `name` (IFLA_STATS64); 0 once it is gone.
uint64_t rxPackets(NetlinkSocket& sock, const std::string& name) {
  auto m = linkGetMessage(name);
  uint64_t rx = 0;
  auto s = sock.request(m, "get link " + name, [&](const nlmsghdr* nlh) {
    nl::forEachAttr(nlh, sizeof(ifinfomsg), [&](const nlattr* a) {
      if (nl::attrType(a) == IFLA_STATS64 && nl::attrPayloadLen(a) >= sizeof(uint64_t)) {
        std::memcpy(&rx, nl::attrPayload(a), sizeof(rx));  // rx_packets comes first
      }
    });
  });
  EXPECT_TRUE(s.ok() || absl::IsNotFound(s)) << s;
  return rx;
}

std::vector<std::string> quasarRules(NetlinkSocket& sock) {
  std::vector<std::string> out;
  auto rules = listRules(sock, conf::Family::kV4);
  EXPECT_TRUE(rules.ok()) << rules.status();
  for (const auto& r : rules.value_or(std::vector<Rule>{})) {
    if (isQuasarRule(r)) out.push_back(r.toString());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> sorted(const std::vector<Rule>& rules) {
  std::vector<std::string> out;
  for (const auto& r : rules) out.push_back(r.toString());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<RouteInfo> tableRoutes(NetlinkSocket& sock, uint32_t table) {
  std::vector<RouteInfo> out;
  auto routes = Rtnl(sock).listRoutes(conf::Family::kV4);
  EXPECT_TRUE(routes.ok()) << routes.status();
  for (const auto& r : routes.value_or(std::vector<RouteInfo>{})) {
    if (r.table == table) out.push_back(r);
  }
  return out;
}

absl::Status noIpv6AndRpFilter(const Fd& ns, const char* rp_filter) {
  return runInNetns(ns, [&]() -> absl::Status {
    // IPv6 off: no link-local chatter in the ENIs' packet counters.
    for (const char* key :
         {"net/ipv6/conf/all/disable_ipv6", "net/ipv6/conf/default/disable_ipv6"}) {
      if (auto s = writeSysctl(key, "1"); !s.ok()) return s;
    }
    return writeSysctl("net/ipv4/conf/all/rp_filter", rp_filter);
  });
}

class EniDataPath : public ::testing::Test {
 protected:
  void SetUp() override {
    vpc_ = unsharedNamespace();
    node_ = unsharedNamespace();
    pod1_ = unsharedNamespace();
    pod2_ = unsharedNamespace();
    ASSERT_TRUE(vpc_.valid() && node_.valid() && pod1_.valid() && pod2_.valid());
    ASSERT_TRUE(noIpv6AndRpFilter(vpc_, "1").ok());
    ASSERT_TRUE(noIpv6AndRpFilter(node_, "1").ok());
    ASSERT_TRUE(runInNetns(node_, [] { return enableForwarding(); }).ok());
    auto vpc = socketIn(vpc_);
    auto node = socketIn(node_);
    ASSERT_TRUE(vpc.ok() && node.ok());
    vpc_sock_.emplace(std::move(*vpc));
    node_sock_.emplace(std::move(*node));

    Rtnl vr(*vpc_sock_);
    const conf::Mac r1_mac{0x02, 0x0c, 0, 0, 1, 1}, r2_mac{0x02, 0x0c, 0, 0, 2, 1};
    ASSERT_TRUE(vr.createVeth({"r1", r1_mac, 1500, "ens5", kEni1.mac, node_.get()}).ok());
    ASSERT_TRUE(vr.createVeth({"r2", r2_mac, 1500, "enp0s6", kEni2.mac, node_.get()}).ok());
    ASSERT_TRUE(vr.addAddress(*vpc_sock_->linkIndex("r1"), prefix("10.90.1.1/24")).ok());
    ASSERT_TRUE(vr.addAddress(*vpc_sock_->linkIndex("r2"), prefix("10.90.2.1/24")).ok());
    const int lo = *vpc_sock_->linkIndex("lo");
    ASSERT_TRUE(vr.setLinkUp(lo).ok());
    ASSERT_TRUE(vr.addAddress(lo, conf::IpPrefix::host(kVpcHost)).ok());
    struct PodRoute {
      conf::IpAddress pod;
      const EniSpec& eni;
      const char* wire;
    };
    for (const auto& p : {PodRoute{kPod1, kEni1, "r1"}, PodRoute{kPod2, kEni2, "r2"}}) {
      Route r{.dst = conf::IpPrefix::host(p.pod), .gateway = p.eni.primary.address()};
      r.ifindex = *vpc_sock_->linkIndex(p.wire);
      ASSERT_TRUE(vr.addRoute(r).ok());
    }

    ASSERT_TRUE(addPod(pod1_, "qsreni1", kPod1).ok());
    ASSERT_TRUE(addPod(pod2_, "qsreni2", kPod2).ok());
    for (const auto& eni : {kEni1, kEni2}) {
      auto link = setUpEni(*node_sock_, eni);
      ASSERT_TRUE(link.ok()) << link.status();
      EXPECT_EQ(link->routes.added, 2);
    }
    // The node's own default route leaves by ENI 2: only its rule sends pod 1 out of ENI 1.
    Route def{.dst = prefix("0.0.0.0/0"), .gateway = ip("10.90.2.1"), .onlink = true};
    def.ifindex = *node_sock_->linkIndex("enp0s6");
    def.protocol = RTPROT_BOOT;
    ASSERT_TRUE(Rtnl(*node_sock_).addRoute(def).ok());

    auto r = reconcileRules(*node_sock_, plan());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->added, 6);
    EXPECT_EQ(r->removed, 0);
    // Frames sent before the kernel's link watch marks a link up are dropped (an ARP then
    // waits a second for its retry).
    for (const char* l : {"ens5", "enp0s6", "qsreni1", "qsreni2"}) {
      ASSERT_TRUE(testing::waitOperUp(*node_sock_, l).ok()) << l;
    }
    for (const char* l : {"r1", "r2"}) ASSERT_TRUE(testing::waitOperUp(*vpc_sock_, l).ok()) << l;
  }

  // The plugin's ADD on the node: veth, /32 route, the pod's address and default route.
  absl::Status addPod(const Fd& pod, const std::string& host, const conf::IpAddress& addr) {
    return runInNetns(node_, [&]() -> absl::Status {
      auto b = PodLinkBuilder::start(dupFd(pod), "(pod)", host, "eth0", {0x0a, 0x58, 0, 0, 0, 9});
      if (!b.ok()) return b.status();
      if (auto s = (*b)->create(1500); !s.ok()) return s;
      if (auto s = (*b)->configure({addr}, 1500); !s.ok()) return s;
      (*b)->commit();
      return absl::OkStatus();
    });
  }

  static std::vector<Rule> plan() { return planEniRules({kEni1, kEni2}, {{kPod1, 1}, {kPod2, 2}}); }

  // Pings the VPC host from `pod`; the packets the router's wires received meanwhile.
  std::pair<uint64_t, uint64_t> pingVpcHost(const Fd& pod) {
    const uint64_t r1 = rxPackets(*vpc_sock_, "r1"), r2 = rxPackets(*vpc_sock_, "r2");
    auto rtt = firstAnsweredPing(pod, kVpcHost, 5s);
    EXPECT_TRUE(rtt.ok()) << rtt.status();
    return {rxPackets(*vpc_sock_, "r1") - r1, rxPackets(*vpc_sock_, "r2") - r2};
  }

  Fd vpc_, node_, pod1_, pod2_;
  std::optional<NetlinkSocket> vpc_sock_, node_sock_;
};

TEST_F(EniDataPath, RulesAndTablesAreAsPlannedAndASecondPassChangesNothing) {
  EXPECT_EQ(quasarRules(*node_sock_), sorted(plan()));
  const int ens5 = *node_sock_->linkIndex("ens5");
  auto t1 = tableRoutes(*node_sock_, eniTable(1));
  ASSERT_EQ(t1.size(), 2u);
  std::sort(t1.begin(), t1.end(),
            [](const RouteInfo& a, const RouteInfo& b) { return a.dst > b.dst; });
  EXPECT_EQ(t1[0].dst, prefix("10.90.1.0/24"));
  EXPECT_EQ(t1[0].prefsrc, ip("10.90.1.10"));
  EXPECT_EQ(t1[0].scope, RT_SCOPE_LINK);
  EXPECT_EQ(t1[1].dst, prefix("0.0.0.0/0"));
  EXPECT_EQ(t1[1].gateway, ip("10.90.1.1"));
  for (const auto& r : t1) {
    EXPECT_EQ(r.oif, ens5);
    EXPECT_EQ(r.protocol, kNodeRouteProtocol);
  }
  // The ENI carries its primary address only, without a main-table route to its subnet.
  for (const auto& r : tableRoutes(*node_sock_, RT_TABLE_MAIN)) {
    EXPECT_NE(r.dst, prefix("10.90.1.0/24")) << "main table route to ENI 1's subnet";
  }
  auto link = Rtnl(*node_sock_).getLink("ens5");
  ASSERT_TRUE(link.ok());
  EXPECT_TRUE(link->up);
  EXPECT_EQ(link->mtu, 9001);
  EXPECT_EQ(Rtnl(*node_sock_).getLink("enp0s6")->mtu, 1500);  // no MTU asked: unchanged
  absl::StatusOr<std::string> rp = absl::UnknownError("not read");
  ASSERT_TRUE(runInNetns(node_, [&] {
                rp = readSysctl("net/ipv4/conf/ens5/rp_filter");
                return rp.status();
              }).ok());
  EXPECT_EQ(*rp, "2");

  // A second pass changes nothing.
  auto again = reconcileRules(*node_sock_, plan());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->added + again->removed, 0);
  EXPECT_EQ(again->unchanged, 6);
  auto eni = setUpEni(*node_sock_, kEni1);
  ASSERT_TRUE(eni.ok()) << eni.status();
  EXPECT_EQ(eni->routes.added + eni->routes.removed, 0);
  EXPECT_EQ(eni->routes.unchanged, 2);
}

TEST_F(EniDataPath, EachPodsTrafficLeavesByItsEniAndRepliesComeBack) {
  const int ens5 = *node_sock_->linkIndex("ens5"), enp0s6 = *node_sock_->linkIndex("enp0s6");
  const int veth1 = *node_sock_->linkIndex("qsreni1"), veth2 = *node_sock_->linkIndex("qsreni2");
  auto out1 = routeGet(*node_sock_, kVpcHost, kPod1, veth1);
  ASSERT_TRUE(out1.ok()) << out1.status();
  EXPECT_EQ(out1->oif, ens5);
  EXPECT_EQ(out1->table, eniTable(1));
  auto out2 = routeGet(*node_sock_, kVpcHost, kPod2, veth2);
  ASSERT_TRUE(out2.ok()) << out2.status();
  EXPECT_EQ(out2->oif, enp0s6);
  // Pod to pod stays on the node ("to" before "from"), and the VPC's packets reach the pod.
  auto across = routeGet(*node_sock_, kPod2, kPod1, veth1);
  ASSERT_TRUE(across.ok()) << across.status();
  EXPECT_EQ(across->oif, veth2);
  auto in = routeGet(*node_sock_, kPod1, kVpcHost, ens5);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->oif, veth1);

  // Real traffic: the router drops a pod's packet that came by the wrong wire.
  auto [r1, r2] = pingVpcHost(pod1_);
  EXPECT_GE(r1, 1u);
  EXPECT_EQ(r2, 0u) << "pod 1's packets reached the VPC by ENI 2";
  std::tie(r1, r2) = pingVpcHost(pod2_);
  EXPECT_GE(r2, 1u);
  EXPECT_EQ(r1, 0u) << "pod 2's packets reached the VPC by ENI 1";
  EXPECT_TRUE(firstAnsweredPing(pod1_, kPod2, 5s).ok());
}

TEST_F(EniDataPath, TamperingIsRepairedAndOtherRulesAreLeftAlone) {
  auto planned = plan();
  auto find = [&](uint32_t prio, const conf::IpAddress& a) {
    for (const auto& r : planned) {
      const auto& sel = prio == kToPodRulePriority ? r.dst : r.src;
      if (r.priority == prio && sel == conf::IpPrefix::host(a)) return r;
    }
    ADD_FAILURE() << "no planned rule " << prio << " " << a.toString();
    return Rule{};
  };
  NetlinkSocket& sock = *node_sock_;
  // Deleted: pod 1's "from" rule. Changed: pod 2's "to" rule now looks up ENI 1's table.
  ASSERT_TRUE(deleteRule(sock, find(kFromEniRulePriority, kPod1)).ok());
  Rule changed = find(kToPodRulePriority, kPod2);
  ASSERT_TRUE(deleteRule(sock, changed).ok());
  changed.table = eniTable(1);
  ASSERT_TRUE(addRule(sock, changed).ok());
  // Stale: a rule of quasar's for a pod that is gone.
  Rule stale{.priority = kFromEniRulePriority, .src = prefix("10.90.1.99/32"), .table = 10001};
  ASSERT_TRUE(addRule(sock, stale).ok());
  // Others': in quasar's range with another protocol, and quasar's protocol outside the range.
  Rule theirs{.priority = 20150, .src = prefix("10.90.9.9/32"), .table = 10001, .protocol = 0};
  Rule outside{.priority = 100, .dst = prefix("10.90.9.8/32")};
  ASSERT_TRUE(addRule(sock, theirs).ok());
  ASSERT_TRUE(addRule(sock, outside).ok());
  // A table route deleted: ENI 2's default route.
  auto t2 = tableRoutes(sock, eniTable(2));
  auto def = std::find_if(t2.begin(), t2.end(), [](const auto& r) { return r.dst.length() == 0; });
  ASSERT_NE(def, t2.end());
  ASSERT_TRUE(Rtnl(sock).deleteRoute(*def).ok());

  auto r = reconcileRules(sock, planned);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->added, 2);
  EXPECT_EQ(r->removed, 2);
  EXPECT_EQ(r->unchanged, 4);
  auto eni2 = setUpEni(sock, kEni2);
  ASSERT_TRUE(eni2.ok()) << eni2.status();
  EXPECT_EQ(eni2->routes.added, 1);
  EXPECT_EQ(eni2->routes.unchanged, 1);

  EXPECT_EQ(quasarRules(sock), sorted(planned));
  auto all = listRules(sock, conf::Family::kV4);
  ASSERT_TRUE(all.ok());
  for (const Rule& other : {theirs, outside}) {
    EXPECT_NE(std::find(all->begin(), all->end(), other), all->end()) << other.toString();
  }
  EXPECT_EQ(tableRoutes(sock, eniTable(2)).size(), 2u);
  EXPECT_EQ(pingVpcHost(pod1_).second, 0u);
  EXPECT_EQ(pingVpcHost(pod2_).first, 0u);
}

TEST_F(EniDataPath, ADetachedEniLeavesNothingBehind) {
  ASSERT_TRUE(tearDownEni(*node_sock_, kEni2).ok());
  EXPECT_TRUE(tableRoutes(*node_sock_, eniTable(2)).empty());
  auto addrs = Rtnl(*node_sock_).listAddresses(conf::Family::kV4);
  ASSERT_TRUE(addrs.ok());
  const int enp0s6 = *node_sock_->linkIndex("enp0s6");
  for (const auto& a : *addrs) EXPECT_NE(a.ifindex, enp0s6) << a.prefix.toString();
  // Its pod is gone with it: the plan without them removes their three rules.
  auto r = reconcileRules(*node_sock_, planEniRules({kEni1}, {{kPod1, 1}}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->removed, 3);
  EXPECT_EQ(r->unchanged, 3);
  EXPECT_EQ(tableRoutes(*node_sock_, eniTable(1)).size(), 2u);
  // Again, and once its link is gone too (the cloud removed the device): still fine.
  EXPECT_TRUE(tearDownEni(*node_sock_, kEni2).ok());
  ASSERT_TRUE(Rtnl(*vpc_sock_).deleteLink("r2").ok());
  EXPECT_TRUE(tearDownEni(*node_sock_, kEni2).ok());
  EXPECT_GE(pingVpcHost(pod1_).first, 1u);
}

// What quasard does at a pod's ADD and release, between passes: one pod's rules.
TEST_F(EniDataPath, OnePodsRulesComeAndGoBetweenPasses) {
  const conf::IpAddress pod3 = ip("10.90.1.23");
  const auto rules = planEniRules({}, {{pod3, 1}});
  ASSERT_EQ(rules.size(), 2u);
  ASSERT_TRUE(addRules(*node_sock_, rules).ok());
  ASSERT_TRUE(addRules(*node_sock_, rules).ok());  // again: no error, no duplicate
  auto with = plan();
  with.insert(with.end(), rules.begin(), rules.end());
  EXPECT_EQ(quasarRules(*node_sock_), sorted(with));
  ASSERT_TRUE(removeRules(*node_sock_, rules).ok());
  ASSERT_TRUE(removeRules(*node_sock_, rules).ok());
  EXPECT_EQ(quasarRules(*node_sock_), sorted(plan()));
  Rule foreign{.priority = 512, .dst = conf::IpPrefix::host(pod3)};
  EXPECT_TRUE(absl::IsInvalidArgument(addRules(*node_sock_, {foreign})));
}

TEST_F(EniDataPath, LinksAreFoundByMacOnly) {
  auto link = findLinkByMac(*node_sock_, kEni1.mac);
  ASSERT_TRUE(link.ok()) << link.status();
  EXPECT_EQ(link->name, "ens5");
  // A bridge (like a vlan, bond or macvlan) may carry the ENI's MAC too, and is not the ENI.
  NlMessage br(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  br.putHeader<ifinfomsg>();
  br.putString(IFLA_IFNAME, "br-eni");
  br.putBytes(IFLA_ADDRESS, kEni1.mac.data(), kEni1.mac.size());
  const auto info = br.nestStart(IFLA_LINKINFO);
  br.putString(IFLA_INFO_KIND, "bridge");
  br.nestEnd(info);
  ASSERT_TRUE(node_sock_->request(br, "create bridge").ok());
  ASSERT_EQ(Rtnl(*node_sock_).getLink("br-eni")->mac, kEni1.mac);
  EXPECT_EQ(findLinkByMac(*node_sock_, kEni1.mac)->name, "ens5");
  EXPECT_TRUE(absl::IsNotFound(findLinkByMac(*node_sock_, {0x0e, 0x51, 0, 0, 9, 9}).status()));
  // Two links with one MAC: which is the ENI cannot be told.
  ASSERT_TRUE(Rtnl(*node_sock_)
                  .createVeth({"dup0", kEni2.mac, 1500, "dup1", {0x02, 0, 0, 0, 0, 1}, vpc_.get()})
                  .ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(findLinkByMac(*node_sock_, kEni2.mac).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(setUpEni(*node_sock_, kEni2).status()));
}

TEST_F(EniDataPath, RefusesWhatIsNotQuasarsToManage) {
  EniSpec primary = kEni1;
  primary.device_index = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(setUpEni(*node_sock_, primary).status()));
  Rule foreign{.priority = 512, .dst = prefix("10.90.1.21/32")};
  EXPECT_TRUE(absl::IsInvalidArgument(reconcileRules(*node_sock_, {foreign}).status()));
  EXPECT_EQ(quasarRules(*node_sock_), sorted(plan()));  // nothing was changed
}

}  // namespace
}  // namespace quasar::routing
