// Floating IPs' data paths end to end on a "physical subnet": a bridge that node namespaces
// (their uplink "up0" on 10.20.0.0/24) and a legacy host (10.20.0.10, no quasar at all) join.
//   veth mode:    the pod behind a veth, the node's /32 route and a proxy entry on its uplink;
//                 the pod then moves to another node, announced by a gratuitous ARP.
//   macvlan mode: the pod on a macvlan of the node's uplink, the node reaching it via its leg.
// Every namespace is the test's own (underlay_testing.h); ctest runs it in one more
// (tests/in-netns.sh). Nothing touches the namespace the test process runs in.

#include <chrono>
#include <iostream>

#include "gtest/gtest.h"
#include "routing/garp.h"
#include "routing/macvlan.h"
#include "routing/pod_link.h"
#include "routing/proxy_neighbour.h"
#include "routing/rtnl.h"
#include "routing/sysctl.h"
#include "routing/underlay_testing.h"

namespace quasar::routing {
namespace {

using namespace std::chrono_literals;
using testing::dupFd;
using testing::firstAnsweredPing;
using testing::neighbourMac;
using testing::socketIn;
using testing::Subnet;
using testing::unsharedNamespace;

conf::IpAddress ip(const char* text) { return *conf::IpAddress::parse(text); }
conf::IpPrefix prefix(const char* text) { return *conf::IpPrefix::parse(text); }

constexpr conf::Mac kPodMac{0x0a, 0x58, 0x0a, 0x14, 0x00, 0x64};

// What quasard does once on a node: forwarding on, proxied answers without delay.
absl::Status prepareNode(const Fd& node) {
  return runInNetns(node, [] {
    if (auto s = enableForwarding(); !s.ok()) return s;
    return answerProxyArpAtOnce("up0");
  });
}

// The veth-mode ADD on `node` for a pod in `pod`: veth, /32 route, pod address and default
// route (PodLinkBuilder, as the plugin does).
absl::Status vethPod(const Fd& node, const Fd& pod, const conf::IpAddress& addr) {
  return runInNetns(node, [&]() -> absl::Status {
    auto b = PodLinkBuilder::start(dupFd(pod), "(pod)", "qsrfip0", "eth0", kPodMac);
    if (!b.ok()) return b.status();
    if (auto s = (*b)->create(1500); !s.ok()) return s;
    if (auto s = (*b)->configure({addr}, 1500); !s.ok()) return s;
    (*b)->commit();
    return absl::OkStatus();
  });
}

// The floating-IP part of the ADD: the proxy entry on the uplink, then the announcement.
absl::Status announce(const Fd& node, const conf::IpAddress& addr) {
  return runInNetns(node, [&]() -> absl::Status {
    auto sock = NetlinkSocket::open();
    if (!sock.ok()) return sock.status();
    auto up0 = sock->linkIndex("up0");
    if (!up0.ok()) return up0.status();
    if (auto s = addProxyNeighbour(*sock, *up0, addr); !s.ok()) return s;
    return sendGratuitousArp("up0", addr);
  });
}

// The DEL on `node`: the veth (and with it the /32 route) and the proxy entry.
absl::Status removeVethPod(const Fd& node, const conf::IpAddress& addr) {
  return runInNetns(node, [&]() -> absl::Status {
    if (auto s = deletePodLink("qsrfip0"); !s.ok()) return s;
    auto sock = NetlinkSocket::open();
    if (!sock.ok()) return sock.status();
    return deleteProxyNeighbour(*sock, *sock->linkIndex("up0"), addr);
  });
}

std::optional<conf::Mac> macOf(const Fd& ns, const std::string& ifname) {
  auto sock = socketIn(ns);
  if (!sock.ok()) return std::nullopt;
  auto link = Rtnl(*sock).getLink(ifname);
  return link.ok() ? link->mac : std::nullopt;
}

TEST(FloatingIpVeth, LegacyHostReachesThePodAndAgainAfterItMovesNodes) {
  auto subnet = Subnet::make();
  ASSERT_TRUE(subnet.ok()) << subnet.status();
  Fd n1 = unsharedNamespace(), n2 = unsharedNamespace(), legacy = unsharedNamespace();
  ASSERT_TRUE(n1.valid() && n2.valid() && legacy.valid());
  ASSERT_TRUE(subnet->join(n1, "up0", prefix("10.20.0.2/24")).ok());
  ASSERT_TRUE(subnet->join(n2, "up0", prefix("10.20.0.3/24")).ok());
  auto legacy_eth0 = subnet->join(legacy, "eth0", prefix("10.20.0.10/24"));
  ASSERT_TRUE(legacy_eth0.ok()) << legacy_eth0.status();
  ASSERT_TRUE(prepareNode(n1).ok());
  ASSERT_TRUE(prepareNode(n2).ok());
  auto legacy_sock = socketIn(legacy);
  ASSERT_TRUE(legacy_sock.ok());
  const auto pod_ip = ip("10.20.0.100");

  Fd p1 = unsharedNamespace();
  ASSERT_TRUE(p1.valid());
  ASSERT_TRUE(vethPod(n1, p1, pod_ip).ok());
  ASSERT_TRUE(announce(n1, pod_ip).ok());
  auto rtt = firstAnsweredPing(legacy, pod_ip, 3s);
  ASSERT_TRUE(rtt.ok()) << "legacy host -> pod on n1: " << rtt.status();
  EXPECT_EQ(neighbourMac(*legacy_sock, *legacy_eth0, pod_ip), macOf(n1, "up0"));

  // The pod is deleted on n1 and made again on n2 with the same address.
  ASSERT_TRUE(removeVethPod(n1, pod_ip).ok());
  p1.reset();
  Fd p2 = unsharedNamespace();
  ASSERT_TRUE(p2.valid());
  ASSERT_TRUE(vethPod(n2, p2, pod_ip).ok());
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(announce(n2, pod_ip).ok());
  auto first = firstAnsweredPing(legacy, pod_ip, 3s);
  const auto took =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  ASSERT_TRUE(first.ok()) << "legacy host -> pod on n2: " << first.status();
  std::cout << "floating-ip move: proxy entry + gratuitous ARP -> first answered ping: "
            << took.count() / 1000.0
            << " ms (of which from the first echo request: " << first->count() / 1000.0 << " ms)\n";
  RecordProperty("move_to_first_answer_us", static_cast<int>(took.count()));
  EXPECT_LT(took, 1s);
  // Straight to n2, not through n1 (which would forward it too): the legacy host's entry for
  // the address moved.
  EXPECT_EQ(neighbourMac(*legacy_sock, *legacy_eth0, pod_ip), macOf(n2, "up0"));
  ASSERT_TRUE(removeVethPod(n2, pod_ip).ok());
}

TEST(FloatingIpMacvlan, LegacyHostAndThePodsOwnNodeReachIt) {
  auto subnet = Subnet::make();
  ASSERT_TRUE(subnet.ok()) << subnet.status();
  Fd n1 = unsharedNamespace(), legacy = unsharedNamespace(), pod = unsharedNamespace();
  ASSERT_TRUE(n1.valid() && legacy.valid() && pod.valid());
  ASSERT_TRUE(subnet->join(n1, "up0", prefix("10.20.0.2/24")).ok());
  auto legacy_eth0 = subnet->join(legacy, "eth0", prefix("10.20.0.10/24"));
  ASSERT_TRUE(legacy_eth0.ok()) << legacy_eth0.status();
  ASSERT_TRUE(prepareNode(n1).ok());
  auto node_sock = socketIn(n1);
  ASSERT_TRUE(node_sock.ok());
  const auto pod_ip = ip("10.20.0.101");

  ASSERT_TRUE(addMacvlanPodLink(*node_sock, pod,
                                {.parent = "up0",
                                 .netns_path = "(pod)",
                                 .pod_ifname = "eth0",
                                 .pod_mac = kPodMac,
                                 .address = prefix("10.20.0.101/24"),
                                 .gateway = ip("10.20.0.1"),
                                 .mtu = 1500})
                  .ok());
  auto leg = ensureMacvlanLeg(*node_sock, "up0");
  ASSERT_TRUE(leg.ok()) << leg.status();
  ASSERT_TRUE(addMacvlanLegRoute(*node_sock, *leg, pod_ip).ok());

  auto from_legacy = firstAnsweredPing(legacy, pod_ip, 3s);
  EXPECT_TRUE(from_legacy.ok()) << "legacy host -> macvlan pod: " << from_legacy.status();
  auto legacy_sock = socketIn(legacy);
  ASSERT_TRUE(legacy_sock.ok());
  EXPECT_EQ(neighbourMac(*legacy_sock, *legacy_eth0, pod_ip), kPodMac) << "not the pod itself";

  auto from_node = firstAnsweredPing(n1, pod_ip, 3s);
  EXPECT_TRUE(from_node.ok()) << "node -> its own macvlan pod via the leg: " << from_node.status();

  // The leg answers ARP only for its pods: the legacy host learns the node's address at the
  // uplink's MAC, not the leg's.
  auto to_node = firstAnsweredPing(legacy, ip("10.20.0.2"), 3s);
  EXPECT_TRUE(to_node.ok()) << to_node.status();
  EXPECT_EQ(neighbourMac(*legacy_sock, *legacy_eth0, ip("10.20.0.2")), macOf(n1, "up0"));

  // The DEL: route, then the pod's link; the leg stays for the node's other macvlan pods.
  EXPECT_TRUE(deleteMacvlanLegRoute(*node_sock, *leg, pod_ip).ok());
  EXPECT_TRUE(deleteMacvlanPodLink(pod, "eth0").ok());
}

}  // namespace
}  // namespace quasar::routing
