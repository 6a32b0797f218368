// The floating-IP building blocks against the real kernel: proxy neighbour entries, gratuitous
// ARP, VLAN links, the macvlan pod link and the node's macvlan leg. Every namespace is unshared
// by the test (underlay_testing.h); ctest runs it inside one more of its own (tests/in-netns.sh).

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include <chrono>
#include <thread>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "routing/garp.h"
#include "routing/macvlan.h"
#include "routing/proxy_neighbour.h"
#include "routing/rtnl.h"
#include "routing/sysctl.h"
#include "routing/underlay_testing.h"
#include "routing/vlan.h"

namespace quasar::routing {
namespace {

using namespace std::chrono_literals;
using testing::neighbourMac;
using testing::socketIn;
using testing::unsharedNamespace;

conf::IpAddress ip(const char* text) { return *conf::IpAddress::parse(text); }
conf::IpPrefix prefix(const char* text) { return *conf::IpPrefix::parse(text); }

template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 200 && !pred(); ++i) std::this_thread::sleep_for(10ms);
  return pred();
}

constexpr conf::Mac kNodeMac{0x02, 0x10, 0, 0, 0, 2};
constexpr conf::Mac kPeerMac{0x02, 0x10, 0, 0, 0, 10};

// Two namespaces joined by a veth: the node's "up0" (10.20.1.2/24) and the peer's "eth0"
// (10.20.1.10/24).
struct Pair {
  Fd node = unsharedNamespace();
  Fd peer = unsharedNamespace();
  absl::StatusOr<NetlinkSocket> node_sock = absl::UnknownError("unset");
  absl::StatusOr<NetlinkSocket> peer_sock = absl::UnknownError("unset");
  int up0 = 0;
  int eth0 = 0;

  absl::Status make() {
    if (!node.valid() || !peer.valid()) return absl::InternalError("unshare");
    node_sock = socketIn(node);
    peer_sock = socketIn(peer);
    if (!node_sock.ok()) return node_sock.status();
    if (!peer_sock.ok()) return peer_sock.status();
    auto s = Rtnl(*node_sock).createVeth({"up0", kNodeMac, 1500, "eth0", kPeerMac, peer.get()});
    if (!s.ok()) return s;
    up0 = *node_sock->linkIndex("up0");
    eth0 = *peer_sock->linkIndex("eth0");
    if (s = Rtnl(*node_sock).addAddress(up0, prefix("10.20.1.2/24")); !s.ok()) return s;
    if (s = Rtnl(*peer_sock).setLinkUp(eth0); !s.ok()) return s;
    if (s = Rtnl(*peer_sock).addAddress(eth0, prefix("10.20.1.10/24")); !s.ok()) return s;
    if (s = testing::waitOperUp(*node_sock, "up0"); !s.ok()) return s;
    return testing::waitOperUp(*peer_sock, "eth0");
  }
};

TEST(ProxyNeighbour, AddIsIdempotentListedAsOursAndDeleteOfMissingSucceeds) {
  Pair p;
  ASSERT_TRUE(p.make().ok());
  NetlinkSocket& sock = *p.node_sock;
  ASSERT_TRUE(addProxyNeighbour(sock, p.up0, ip("10.20.1.100")).ok());
  ASSERT_TRUE(addProxyNeighbour(sock, p.up0, ip("10.20.1.100")).ok()) << "again";
  ASSERT_TRUE(addProxyNeighbour(sock, p.up0, ip("10.20.1.101")).ok());
  // An ordinary neighbour entry is not listed.
  ASSERT_TRUE(Rtnl(sock).addPermanentNeighbour(p.up0, ip("10.20.1.7"), kPeerMac).ok());

  auto listed = listProxyNeighbours(sock, conf::Family::kV4, p.up0);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 2u);
  for (const auto& n : *listed) {
    EXPECT_TRUE(n.dst == ip("10.20.1.100") || n.dst == ip("10.20.1.101"));
    EXPECT_EQ(n.protocol, kRouteProtocol);
    EXPECT_EQ(n.ifindex, p.up0);
  }
  auto all = listProxyNeighbours(sock, conf::Family::kV4, 0);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);

  EXPECT_TRUE(deleteProxyNeighbour(sock, p.up0, ip("10.20.1.100")).ok());
  EXPECT_TRUE(deleteProxyNeighbour(sock, p.up0, ip("10.20.1.100")).ok()) << "already gone";
  listed = listProxyNeighbours(sock, conf::Family::kV4, p.up0);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].dst, ip("10.20.1.101"));
  auto missing_dev = addProxyNeighbour(sock, 9999, ip("10.20.1.100"));
  EXPECT_FALSE(missing_dev.ok());
}

TEST(ProxyNeighbour, AnswersArpForItsAddressOnlyOnceARouteLeadsElsewhere) {
  Pair p;
  ASSERT_TRUE(p.make().ok());
  ASSERT_TRUE(runInNetns(p.node, [] {
                auto s = writeSysctl("net/ipv4/ip_forward", "1");
                return s.ok() ? answerProxyArpAtOnce("up0") : s;
              }).ok());
  // The pod's place on the node: a /32 route through another device (a veth to nowhere).
  Fd pod = unsharedNamespace();
  ASSERT_TRUE(
      Rtnl(*p.node_sock).createVeth({"qsrx", kNodeMac, 1500, "eth0", kPeerMac, pod.get()}).ok());
  const int veth = *p.node_sock->linkIndex("qsrx");
  ASSERT_TRUE(Rtnl(*p.node_sock)
                  .addRoute({.dst = prefix("10.20.1.100/32"),
                             .gateway = std::nullopt,
                             .ifindex = veth,
                             .scope = RT_SCOPE_LINK})
                  .ok());
  ASSERT_TRUE(addProxyNeighbour(*p.node_sock, p.up0, ip("10.20.1.100")).ok());
  // The peer's ping makes it ARP for 10.20.1.100; only the proxy entry can answer that. The
  // ping itself gets no answer (nothing is behind the veth), so wait for the entry instead.
  (void)testing::firstAnsweredPing(p.peer, ip("10.20.1.100"), 300ms);
  EXPECT_TRUE(eventually([&] {
    return neighbourMac(*p.peer_sock, p.eth0, ip("10.20.1.100")) == kNodeMac;
  })) << "no proxied ARP answer";
}

// A neighbour entry of the peer's own (NUD_STALE, as left by earlier traffic).
absl::Status addStaleNeighbour(NetlinkSocket& sock, int ifindex, const conf::IpAddress& ip,
                               const conf::Mac& mac) {
  NlMessage m(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE);
  auto* nd = m.putHeader<ndmsg>();
  nd->ndm_family = AF_INET;
  nd->ndm_ifindex = ifindex;
  nd->ndm_state = NUD_STALE;
  m.putBytes(NDA_DST, ip.data(), 4);
  m.putBytes(NDA_LLADDR, mac.data(), mac.size());
  return sock.request(m, "add stale neighbour");
}

TEST(GratuitousArp, MovesAPeersEntryForTheAddressToTheNode) {
  Pair p;
  ASSERT_TRUE(p.make().ok());
  const conf::Mac old_place{0x02, 0x99, 0, 0, 0, 1};
  ASSERT_TRUE(addStaleNeighbour(*p.peer_sock, p.eth0, ip("10.20.1.100"), old_place).ok());
  ASSERT_EQ(neighbourMac(*p.peer_sock, p.eth0, ip("10.20.1.100")), old_place);
  ASSERT_TRUE(runInNetns(p.node, [] { return sendGratuitousArp("up0", ip("10.20.1.100")); }).ok());
  EXPECT_TRUE(eventually(
      [&] { return neighbourMac(*p.peer_sock, p.eth0, ip("10.20.1.100")) == kNodeMac; }));
}

TEST(GratuitousArp, CreatesAnEntryWhereThePeerAcceptsUnsolicitedArp) {
  Pair p;
  ASSERT_TRUE(p.make().ok());
  ASSERT_TRUE(
      runInNetns(p.peer, [] { return writeSysctl("net/ipv4/conf/eth0/arp_accept", "1"); }).ok());
  ASSERT_EQ(neighbourMac(*p.peer_sock, p.eth0, ip("10.20.1.100")), std::nullopt);
  ASSERT_TRUE(runInNetns(p.node, [] { return sendGratuitousArp("up0", ip("10.20.1.100")); }).ok());
  EXPECT_TRUE(eventually(
      [&] { return neighbourMac(*p.peer_sock, p.eth0, ip("10.20.1.100")) == kNodeMac; }));
}

TEST(GratuitousArp, FailsClearlyWithoutTheDevice) {
  Fd ns = unsharedNamespace();
  auto s = runInNetns(ns, [] { return sendGratuitousArp("nope0", ip("10.20.1.100")); });
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
}

TEST(VlanLink, EnsureIsIdempotentAndDeleteToo) {
  Pair p;
  ASSERT_TRUE(p.make().ok());
  NetlinkSocket& sock = *p.node_sock;
  auto first = ensureVlanLink(sock, "up0", 100);
  if (absl::IsUnimplemented(first.status())) {
    GTEST_SKIP() << "NOT RUN: this kernel has no 802.1Q VLAN support (CONFIG_VLAN_8021Q): "
                 << first.status();
  }
  ASSERT_TRUE(first.ok()) << first.status();
  auto again = ensureVlanLink(sock, "up0", 100);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*first, *again);
  auto link = Rtnl(sock).getLink("up0.100");
  ASSERT_TRUE(link.ok());
  EXPECT_TRUE(link->up);
  EXPECT_EQ(link->link, p.up0);
  // The same name as another VLAN id is refused, not taken over.
  ASSERT_TRUE(Rtnl(sock).deleteLink("up0.100").ok());
  auto other = vlanCreateMessage("up0.100", p.up0, 200, 0);
  ASSERT_TRUE(sock.request(other, "create vlan 200 as up0.100").ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(ensureVlanLink(sock, "up0", 100).status()));
  EXPECT_TRUE(deleteVlanLink(sock, "up0", 100).ok());
  EXPECT_TRUE(deleteVlanLink(sock, "up0", 100).ok()) << "already gone";
  EXPECT_TRUE(absl::IsNotFound(sock.linkIndex("up0.100").status()));
}

TEST(MacvlanLeg, EnsureIsIdempotentAndItsRoutesArePodRoutes) {
  Pair p;
  ASSERT_TRUE(p.make().ok());
  NetlinkSocket& sock = *p.node_sock;
  auto leg = ensureMacvlanLeg(sock, "up0");
  ASSERT_TRUE(leg.ok()) << leg.status();
  auto again = ensureMacvlanLeg(sock, "up0");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*leg, *again);
  auto link = Rtnl(sock).getLink("qmv-up0");
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(link->kind, "macvlan");
  EXPECT_TRUE(link->up);
  EXPECT_EQ(link->link, p.up0);
  auto arp_filter = runInNetns(p.node, [] {
    auto v = readSysctl("net/ipv4/conf/qmv-up0/arp_filter");
    if (!v.ok()) return v.status();
    return *v == "1" ? absl::OkStatus() : absl::InternalError("arp_filter is " + *v);
  });
  EXPECT_TRUE(arp_filter.ok()) << arp_filter;

  ASSERT_TRUE(addMacvlanLegRoute(sock, *leg, ip("10.20.1.101")).ok());
  ASSERT_TRUE(addMacvlanLegRoute(sock, *leg, ip("10.20.1.101")).ok()) << "again";
  auto routes = Rtnl(sock).listRoutes(conf::Family::kV4);
  ASSERT_TRUE(routes.ok());
  int found = 0;
  for (const auto& r : *routes) {
    if (r.dst == prefix("10.20.1.101/32")) {
      ++found;
      EXPECT_EQ(r.oif, *leg);
      EXPECT_EQ(r.protocol, kRouteProtocol);
    }
  }
  EXPECT_EQ(found, 1);
  EXPECT_TRUE(deleteMacvlanLegRoute(sock, *leg, ip("10.20.1.101")).ok());
  EXPECT_TRUE(deleteMacvlanLegRoute(sock, *leg, ip("10.20.1.101")).ok()) << "already gone";

  // A link of another kind under the leg's name is not taken over.
  ASSERT_TRUE(deleteMacvlanLeg(sock, "up0").ok());
  ASSERT_TRUE(deleteMacvlanLeg(sock, "up0").ok()) << "already gone";
  ASSERT_TRUE(
      Rtnl(sock).createVeth({"qmv-up0", kNodeMac, 1500, "x1", kPeerMac, p.peer.get()}).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(ensureMacvlanLeg(sock, "up0").status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(deleteMacvlanLeg(sock, "up0")));
}

TEST(MacvlanPodLink, FailureLeavesNothingAndATakenNameIsLeftAlone) {
  Pair p;
  ASSERT_TRUE(p.make().ok());
  Fd pod = unsharedNamespace();
  ASSERT_TRUE(pod.valid());
  auto pod_sock = socketIn(pod);
  ASSERT_TRUE(pod_sock.ok());
  MacvlanPodSpec spec{.parent = "up0",
                      .netns_path = "(test)",
                      .pod_ifname = "eth0",
                      .pod_mac = {0x0a, 0x58, 0, 0, 0, 1},
                      .address = prefix("10.20.1.101/24"),
                      // Not on the pod's subnet: the default route fails, after the link exists.
                      .gateway = ip("10.30.0.1"),
                      .mtu = 1400};
  auto s = addMacvlanPodLink(*p.node_sock, pod, spec);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.message(), "default route")) << s;
  EXPECT_TRUE(absl::IsNotFound(pod_sock->linkIndex("eth0").status())) << "not rolled back";

  spec.gateway = ip("10.20.1.1");
  ASSERT_TRUE(addMacvlanPodLink(*p.node_sock, pod, spec).ok());
  auto link = Rtnl(*pod_sock).getLink("eth0");
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(link->kind, "macvlan");
  EXPECT_EQ(link->mac, spec.pod_mac);
  EXPECT_EQ(link->mtu, 1400);
  EXPECT_TRUE(link->up);
  // Again under the same name: refused, and the pod's interface stays.
  EXPECT_TRUE(absl::IsAlreadyExists(addMacvlanPodLink(*p.node_sock, pod, spec)));
  EXPECT_EQ(pod_sock->linkIndex("eth0").value_or(-1), link->index);

  EXPECT_TRUE(deleteMacvlanPodLink(pod, "eth0").ok());
  EXPECT_TRUE(deleteMacvlanPodLink(pod, "eth0").ok()) << "already gone";
  EXPECT_TRUE(absl::IsNotFound(pod_sock->linkIndex("eth0").status()));
}

}  // namespace
}  // namespace quasar::routing
