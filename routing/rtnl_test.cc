#include "routing/rtnl.h"

#include <gtest/gtest.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include <map>

namespace quasar::routing {
namespace {

// Walks a message's attributes (top level only) into type -> attribute.
std::map<int, const nlattr*> attrs(const nlmsghdr* nlh, size_t header_len) {
  std::map<int, const nlattr*> out;
  nl::forEachAttr(nlh, header_len, [&out](const nlattr* a) { out[nl::attrType(a)] = a; });
  return out;
}

TEST(RtnlMessages, VethCreateCarriesBothEndsAndPeerNamespace) {
  VethSpec spec{
      "qsr0123", {0xee, 0xee, 0xee, 0xee, 0xee, 0xee}, 1480, "eth0", {0x0a, 0x58, 1, 2, 3, 4}, 42};
  auto m = vethCreateMessage(spec);
  const nlmsghdr* nlh = m.header();
  EXPECT_EQ(nlh->nlmsg_type, RTM_NEWLINK);
  EXPECT_TRUE(nlh->nlmsg_flags & NLM_F_EXCL);
  auto* ifi = static_cast<const ifinfomsg*>(nl::payload(nlh));
  EXPECT_EQ(ifi->ifi_flags & IFF_UP, unsigned{IFF_UP});
  auto top = attrs(nlh, sizeof(ifinfomsg));
  ASSERT_TRUE(top.count(IFLA_IFNAME));
  EXPECT_STREQ(nl::attrString(top[IFLA_IFNAME]), "qsr0123");
  EXPECT_EQ(nl::attrU32(top[IFLA_MTU]), 1480u);
  ASSERT_TRUE(top.count(IFLA_LINKINFO));
  // IFLA_LINKINFO -> IFLA_INFO_DATA -> VETH_INFO_PEER -> ifinfomsg + attributes.
  const nlattr* data = nullptr;
  nl::forEachNested(top[IFLA_LINKINFO], [&data](const nlattr* it) {
    if (nl::attrType(it) == IFLA_INFO_DATA) data = it;
  });
  ASSERT_NE(data, nullptr);
  const nlattr* peer = static_cast<const nlattr*>(nl::attrPayload(data));
  ASSERT_EQ(nl::attrType(peer), VETH_INFO_PEER);
  const auto* peer_payload = static_cast<const uint8_t*>(nl::attrPayload(peer));
  const auto* peer_ifi = reinterpret_cast<const ifinfomsg*>(peer_payload);
  // The kernel cannot open the peer before the pair is linked (ENOTCONN): it stays down here.
  EXPECT_EQ(peer_ifi->ifi_flags & IFF_UP, 0u);
  std::map<int, const nlattr*> peer_attrs;
  const size_t ifi_len = nl::align(sizeof(ifinfomsg));
  nl::forEachAttr(peer_payload + ifi_len, nl::attrPayloadLen(peer) - ifi_len,
                  [&peer_attrs](const nlattr* a) { peer_attrs[nl::attrType(a)] = a; });
  EXPECT_EQ(peer_attrs.size(), 6u);
  EXPECT_EQ(nl::attrU32(peer_attrs[IFLA_NUM_RX_QUEUES]), 1u);
  EXPECT_STREQ(nl::attrString(peer_attrs[IFLA_IFNAME]), "eth0");
  EXPECT_EQ(nl::attrU32(peer_attrs[IFLA_NET_NS_FD]), 42u);
}

TEST(RtnlMessages, RouteCarriesProtocolOnlinkAndRoundTripsThroughParser) {
  Route r;
  r.dst = *conf::IpPrefix::parse("0.0.0.0/0");
  r.gateway = *conf::IpAddress::parse("169.254.1.1");
  r.ifindex = 7;
  r.onlink = true;
  auto m = routeAddMessage(r);
  // The parser reads RTM_NEWROUTE, which is exactly what we built.
  auto parsed = parseRoute(m.header());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->dst.toString(), "0.0.0.0/0");
  EXPECT_EQ(parsed->gateway->toString(), "169.254.1.1");
  EXPECT_EQ(parsed->oif, 7);
  EXPECT_EQ(parsed->protocol, kRouteProtocol);
  EXPECT_TRUE(parsed->flags & RTNH_F_ONLINK);
}

TEST(RtnlMessages, AddressRoundTrip) {
  auto m = addressAddMessage(3, *conf::IpPrefix::parse("10.244.1.5/32"));
  auto parsed = parseAddress(m.header());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->ifindex, 3);
  EXPECT_EQ(parsed->prefix.toString(), "10.244.1.5/32");
}

TEST(RtnlMessages, NeighbourAndFdbDeletesCarryWhatTheKernelMatchesOn) {
  NeighbourInfo fdb;
  fdb.ifindex = 9;
  fdb.family = AF_BRIDGE;
  fdb.flags = NTF_SELF | NTF_EXT_LEARNED;
  fdb.dst = *conf::IpAddress::parse("10.98.1.3");
  fdb.lladdr = conf::Mac{0x0e, 0x51, 10, 98, 1, 3};
  auto m = neighbourDeleteMessage(fdb);
  EXPECT_EQ(m.header()->nlmsg_type, RTM_DELNEIGH);
  // The message parses like the kernel's own dump entry would.
  m.header()->nlmsg_type = RTM_NEWNEIGH;
  auto parsed = parseNeighbour(m.header());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->ifindex, 9);
  EXPECT_EQ(parsed->family, AF_BRIDGE);
  EXPECT_EQ(parsed->flags, NTF_SELF);  // only NTF_SELF is sent
  EXPECT_EQ(parsed->dst->toString(), "10.98.1.3");
  EXPECT_EQ(*parsed->lladdr, *fdb.lladdr);
}

TEST(RtnlMessages, LinkSettingsNestInetAndInet6UnderAfSpec) {
  auto m = linkSetMessage({.ifindex = 4, .proxy_arp = true, .rp_filter = 0,
                           .no_ipv6_link_local = true});
  auto top = attrs(m.header(), sizeof(ifinfomsg));
  ASSERT_TRUE(top.count(IFLA_AF_SPEC));
  EXPECT_FALSE(top.count(IFLA_MTU));
  std::map<int, const nlattr*> families;
  nl::forEachNested(top[IFLA_AF_SPEC], [&](const nlattr* a) { families[nl::attrType(a)] = a; });
  ASSERT_TRUE(families.count(AF_INET));
  ASSERT_TRUE(families.count(AF_INET6));
  std::map<int, uint32_t> conf;
  nl::forEachNested(families[AF_INET], [&](const nlattr* c) {
    nl::forEachNested(c, [&](const nlattr* v) { conf[nl::attrType(v)] = nl::attrU32(v); });
  });
  EXPECT_EQ(conf[IPV4_DEVCONF_PROXY_ARP], 1u);
  ASSERT_TRUE(conf.count(IPV4_DEVCONF_RP_FILTER));
  EXPECT_EQ(conf[IPV4_DEVCONF_RP_FILTER], 0u);
}

TEST(RtnlMessages, LinkSettingsChangeTheUpFlagOnlyWhenAsked) {
  auto flags = [](const LinkSettings& ls) {
    auto m = linkSetMessage(ls);
    const auto* ifi = static_cast<const ifinfomsg*>(nl::payload(m.header()));
    return std::pair<unsigned, unsigned>{ifi->ifi_flags, ifi->ifi_change};
  };
  EXPECT_EQ(flags({.ifindex = 3, .up = true}), std::make_pair(unsigned{IFF_UP}, unsigned{IFF_UP}));
  EXPECT_EQ(flags({.ifindex = 3, .up = false}), std::make_pair(0u, unsigned{IFF_UP}));
  EXPECT_EQ(flags({.ifindex = 3, .mtu = 1400}), std::make_pair(0u, 0u));
}

TEST(RtnlMessages, LinkDumpAsksForAnExtMaskSoLargeLinksFit) {
  auto m = linkDumpMessage();
  EXPECT_EQ(m.header()->nlmsg_type, RTM_GETLINK);
  auto top = attrs(m.header(), sizeof(ifinfomsg));
  ASSERT_TRUE(top.count(IFLA_EXT_MASK));
  EXPECT_NE(nl::attrU32(top[IFLA_EXT_MASK]), 0u);
}

TEST(RtnlMessages, GroupMessagesSelectByNameOrByGroupAlone) {
  auto move = linkGroupMessage("qsr0123", 0x71737200);
  EXPECT_EQ(move.header()->nlmsg_type, RTM_NEWLINK);
  EXPECT_FALSE(move.header()->nlmsg_flags & NLM_F_CREATE);
  auto top = attrs(move.header(), sizeof(ifinfomsg));
  ASSERT_TRUE(top.count(IFLA_IFNAME) && top.count(IFLA_GROUP));
  EXPECT_STREQ(nl::attrString(top[IFLA_IFNAME]), "qsr0123");
  EXPECT_EQ(nl::attrU32(top[IFLA_GROUP]), 0x71737200u);

  auto del = groupDeleteMessage(0x71737200);
  EXPECT_EQ(del.header()->nlmsg_type, RTM_DELLINK);
  // The kernel deletes by group only when neither an index nor a name selects a link.
  EXPECT_EQ(static_cast<const ifinfomsg*>(nl::payload(del.header()))->ifi_index, 0);
  auto dtop = attrs(del.header(), sizeof(ifinfomsg));
  EXPECT_FALSE(dtop.count(IFLA_IFNAME));
  ASSERT_TRUE(dtop.count(IFLA_GROUP));
  EXPECT_EQ(nl::attrU32(dtop[IFLA_GROUP]), 0x71737200u);
}

TEST(NlAttr, MalformedAttributesStopTheWalkInsideTheBuffer) {
  NlMessage m(RTM_NEWLINK, 0);
  m.putHeader<ifinfomsg>();
  m.putU32(IFLA_MTU, 1500);
  m.putString(IFLA_IFNAME, "eth0");
  int seen = 0;
  nl::forEachAttr(m.header(), sizeof(ifinfomsg), [&](const nlattr*) { ++seen; });
  EXPECT_EQ(seen, 2);
  // The second attribute claims more bytes than the message holds: only the first is read.
  auto* second = reinterpret_cast<nlattr*>(reinterpret_cast<uint8_t*>(m.header()) +
                                           nl::kHeaderLen + nl::align(sizeof(ifinfomsg)) +
                                           nl::align(nl::kAttrHeaderLen + 4));
  second->nla_len = 200;
  seen = 0;
  nl::forEachAttr(m.header(), sizeof(ifinfomsg), [&](const nlattr*) { ++seen; });
  EXPECT_EQ(seen, 1);
  // A string without its terminating NUL is refused, not read past its end.
  second->nla_len = static_cast<uint16_t>(nl::kAttrHeaderLen + 4);
  EXPECT_EQ(nl::attrString(second), nullptr);
  // A message longer than the bytes received is not a message.
  EXPECT_FALSE(nl::messageOk(m.header(), m.size() - 1));
  EXPECT_TRUE(nl::messageOk(m.header(), m.size()));
}

TEST(RtnlParsers, MessagesTooShortForTheirFamilyHeaderAreNotParsed) {
  // Only a netlink header: a DEL notification as short as this must not be read past its end.
  nlmsghdr bare{};
  bare.nlmsg_len = nl::kHeaderLen;
  for (uint16_t type : {RTM_NEWLINK, RTM_DELLINK}) {
    bare.nlmsg_type = type;
    EXPECT_FALSE(parseLink(&bare));
  }
  for (uint16_t type : {RTM_NEWROUTE, RTM_DELROUTE}) {
    bare.nlmsg_type = type;
    EXPECT_FALSE(parseRoute(&bare));
  }
  bare.nlmsg_type = RTM_NEWADDR;
  EXPECT_FALSE(parseAddress(&bare));
  bare.nlmsg_type = RTM_NEWNEIGH;
  EXPECT_FALSE(parseNeighbour(&bare));
  // With the family header the same link message parses.
  NlMessage m(RTM_DELLINK, 0);
  m.putHeader<ifinfomsg>()->ifi_index = 7;
  auto link = parseLink(m.header());
  ASSERT_TRUE(link);
  EXPECT_EQ(link->index, 7);
}

TEST(ErrnoStatus, MapsCodesCallersActOn) {
  EXPECT_TRUE(absl::IsAlreadyExists(errnoStatus(EEXIST, "x")));
  EXPECT_TRUE(absl::IsNotFound(errnoStatus(ENODEV, "x")));
  EXPECT_TRUE(absl::IsUnavailable(errnoStatus(EBUSY, "x")));
  EXPECT_NE(errnoStatus(EEXIST, "create veth a").message().find("create veth a"),
            std::string::npos);
}

}  // namespace
}  // namespace quasar::routing
