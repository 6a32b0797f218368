// Messages and frames of the floating-IP building blocks (proxy neighbours, gratuitous ARP,
// VLAN and macvlan links), checked as bytes: no kernel.

#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <map>

#include "routing/garp.h"
#include "routing/macvlan.h"
#include "routing/proxy_neighbour.h"
#include "routing/rtnl.h"
#include "routing/vlan.h"

namespace quasar::routing {
namespace {

std::map<int, const nlattr*> attrs(const nlmsghdr* nlh, size_t header_len) {
  std::map<int, const nlattr*> out;
  nl::forEachAttr(nlh, header_len, [&out](const nlattr* a) { out[nl::attrType(a)] = a; });
  return out;
}

std::map<int, const nlattr*> nested(const nlattr* a) {
  std::map<int, const nlattr*> out;
  nl::forEachNested(a, [&out](const nlattr* n) { out[nl::attrType(n)] = n; });
  return out;
}

conf::IpAddress ip(const char* text) { return *conf::IpAddress::parse(text); }

TEST(ProxyNeighbourMessages, AddIsAProxyEntryOfQuasarAndParsesBack) {
  auto m = proxyNeighbourAddMessage(7, ip("10.20.0.100"));
  nlmsghdr* nlh = m.header();
  EXPECT_EQ(nlh->nlmsg_type, RTM_NEWNEIGH);
  EXPECT_TRUE(nlh->nlmsg_flags & NLM_F_CREATE);
  EXPECT_FALSE(nlh->nlmsg_flags & NLM_F_EXCL) << "adding an existing entry must succeed";
  const auto* nd = static_cast<const ndmsg*>(nl::payload(nlh));
  EXPECT_EQ(nd->ndm_family, AF_INET);
  EXPECT_EQ(nd->ndm_ifindex, 7);
  EXPECT_EQ(nd->ndm_flags, NTF_PROXY);
  auto top = attrs(nlh, sizeof(ndmsg));
  ASSERT_TRUE(top.count(NDA_DST));
  ASSERT_EQ(nl::attrPayloadLen(top[NDA_DST]), 4u);
  EXPECT_EQ(std::memcmp(nl::attrPayload(top[NDA_DST]), ip("10.20.0.100").data(), 4), 0);
  ASSERT_TRUE(top.count(NDA_PROTOCOL));
  EXPECT_EQ(*static_cast<const uint8_t*>(nl::attrPayload(top[NDA_PROTOCOL])), kRouteProtocol);
  EXPECT_FALSE(top.count(NDA_LLADDR));

  // The kernel's dump of proxy entries has the same layout.
  auto parsed = parseNeighbour(nlh);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->dst, ip("10.20.0.100"));
  EXPECT_EQ(parsed->ifindex, 7);
  EXPECT_TRUE(parsed->flags & NTF_PROXY);
  EXPECT_EQ(parsed->protocol, kRouteProtocol);
}

TEST(ProxyNeighbourMessages, DeleteAndDumpSelectProxyEntries) {
  auto del = proxyNeighbourDeleteMessage(3, ip("10.20.0.5"));
  EXPECT_EQ(del.header()->nlmsg_type, RTM_DELNEIGH);
  EXPECT_EQ(static_cast<const ndmsg*>(nl::payload(del.header()))->ndm_flags, NTF_PROXY);
  auto dump = proxyNeighbourDumpMessage(conf::Family::kV4);
  EXPECT_EQ(dump.header()->nlmsg_type, RTM_GETNEIGH);
  // Exactly NTF_PROXY, or the kernel dumps ordinary entries instead.
  EXPECT_EQ(static_cast<const ndmsg*>(nl::payload(dump.header()))->ndm_flags, NTF_PROXY);
}

TEST(GratuitousArp, FrameIsABroadcastRequestForItsOwnAddress) {
  const conf::Mac mac{0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
  const auto f = gratuitousArpFrame(mac, ip("10.20.0.100"));
  const uint8_t expected[42] = {
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff,                  // destination: broadcast
      0x02, 0x11, 0x22, 0x33, 0x44, 0x55,                  // source: the device
      0x08, 0x06,                                          // ARP
      0x00, 0x01, 0x08, 0x00, 6,    4,                     // Ethernet, IPv4, lengths
      0x00, 0x01,                                          // request
      0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 10, 20, 0, 100,  // sender
      0,    0,    0,    0,    0,    0,    10, 20, 0, 100,  // target: unknown MAC, same IP
  };
  ASSERT_EQ(f.size(), 60u);
  EXPECT_EQ(std::memcmp(f.data(), expected, sizeof(expected)), 0);
  for (size_t i = sizeof(expected); i < f.size(); ++i) EXPECT_EQ(f[i], 0) << "padding at " << i;
}

TEST(GratuitousArp, RefusesIpv6) {
  EXPECT_TRUE(absl::IsInvalidArgument(sendGratuitousArp("lo", ip("fd00::1"))));
}

TEST(Vlan, NamesFitIfnamsiz) {
  EXPECT_EQ(vlanLinkName("eth0", 100), "eth0.100");
  EXPECT_EQ(vlanLinkName("enp129s0f1np1", 4094), "enp129s0f1.4094");
  EXPECT_EQ(vlanLinkName("enp129s0f1np1", 4094).size(), 15u);
  EXPECT_EQ(vlanLinkName("eth0", 0), "");
  EXPECT_EQ(vlanLinkName("eth0", 4095), "");
}

TEST(Vlan, CreateMessageCarriesParentAndIdAndParsesBack) {
  auto m = vlanCreateMessage("eth0.100", 4, 100, 0);
  nlmsghdr* nlh = m.header();
  EXPECT_EQ(nlh->nlmsg_type, RTM_NEWLINK);
  EXPECT_TRUE(nlh->nlmsg_flags & NLM_F_EXCL);
  auto top = attrs(nlh, sizeof(ifinfomsg));
  EXPECT_STREQ(nl::attrString(top[IFLA_IFNAME]), "eth0.100");
  EXPECT_EQ(nl::attrU32(top[IFLA_LINK]), 4u);
  EXPECT_FALSE(top.count(IFLA_MTU)) << "mtu 0 inherits the parent's";
  auto info = nested(top[IFLA_LINKINFO]);
  EXPECT_STREQ(nl::attrString(info[IFLA_INFO_KIND]), "vlan");
  EXPECT_EQ(parseVlanId(nlh), uint16_t{100});
  auto link = parseLink(nlh);
  ASSERT_TRUE(link.has_value());
  EXPECT_EQ(link->link, 4);
  EXPECT_EQ(link->kind, "vlan");
  EXPECT_EQ(parseVlanId(vethCreateMessage({}).header()), std::nullopt);
}

TEST(Macvlan, LegNamesFitIfnamsizAndDifferPerParent) {
  EXPECT_EQ(macvlanLegName("eth0"), "qmv-eth0");
  EXPECT_EQ(macvlanLegName("eth0.100"), "qmv-eth0.100");
  const auto a = macvlanLegName("enp129s0f1np1");
  const auto b = macvlanLegName("enp129s0f1np2");
  EXPECT_EQ(a.size(), 15u);
  EXPECT_EQ(a.substr(0, 10), "qmv-enp129");
  EXPECT_NE(a, b);
  EXPECT_EQ(a, macvlanLegName("enp129s0f1np1")) << "stable";
}

TEST(Macvlan, CreateMessageIsBridgeModeInTheTargetNamespace) {
  auto m = macvlanCreateMessage({.name = "eth0",
                                 .parent_ifindex = 2,
                                 .mac = conf::Mac{0x0a, 0x58, 1, 2, 3, 4},
                                 .mtu = 1400,
                                 .netns_fd = 9});
  nlmsghdr* nlh = m.header();
  EXPECT_EQ(nlh->nlmsg_type, RTM_NEWLINK);
  auto top = attrs(nlh, sizeof(ifinfomsg));
  EXPECT_STREQ(nl::attrString(top[IFLA_IFNAME]), "eth0");
  EXPECT_EQ(nl::attrU32(top[IFLA_LINK]), 2u);
  EXPECT_EQ(nl::attrU32(top[IFLA_MTU]), 1400u);
  EXPECT_EQ(nl::attrU32(top[IFLA_NET_NS_FD]), 9u);
  ASSERT_EQ(nl::attrPayloadLen(top[IFLA_ADDRESS]), 6u);
  auto info = nested(top[IFLA_LINKINFO]);
  EXPECT_STREQ(nl::attrString(info[IFLA_INFO_KIND]), "macvlan");
  auto data = nested(info[IFLA_INFO_DATA]);
  EXPECT_EQ(nl::attrU32(data[IFLA_MACVLAN_MODE]), uint32_t{MACVLAN_MODE_BRIDGE});

  auto leg = macvlanCreateMessage({.name = "qmv-eth0", .parent_ifindex = 2});
  auto leg_top = attrs(leg.header(), sizeof(ifinfomsg));
  EXPECT_FALSE(leg_top.count(IFLA_NET_NS_FD));
  EXPECT_FALSE(leg_top.count(IFLA_ADDRESS));
  EXPECT_FALSE(leg_top.count(IFLA_MTU));
}

TEST(LinkSettings, ArpFilterIsAnIpv4DevconfEntry) {
  auto m = linkSetMessage({.ifindex = 5, .arp_filter = true});
  auto top = attrs(m.header(), sizeof(ifinfomsg));
  ASSERT_TRUE(top.count(IFLA_AF_SPEC));
  auto inet = nested(nested(top[IFLA_AF_SPEC])[AF_INET]);
  auto conf = nested(inet[IFLA_INET_CONF]);
  ASSERT_TRUE(conf.count(IPV4_DEVCONF_ARPFILTER));
  EXPECT_EQ(nl::attrU32(conf[IPV4_DEVCONF_ARPFILTER]), 1u);
  EXPECT_FALSE(conf.count(IPV4_DEVCONF_PROXY_ARP));
}

}  // namespace
}  // namespace quasar::routing
