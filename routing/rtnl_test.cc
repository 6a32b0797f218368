#include "routing/rtnl.h"

#include <gtest/gtest.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include <map>

namespace quasar::routing {
namespace {

// Walks a message's attributes (top level only) into type -> attribute.
std::map<int, const nlattr*> attrs(const nlmsghdr* nlh, size_t header_len) {
  std::map<int, const nlattr*> out;
  mnl_attr_parse(
      nlh, header_len,
      [](const nlattr* a, void* data) -> int {
        (*static_cast<std::map<int, const nlattr*>*>(data))[mnl_attr_get_type(a)] = a;
        return MNL_CB_OK;
      },
      &out);
  return out;
}

TEST(RtnlMessages, VethCreateCarriesBothEndsAndPeerNamespace) {
  VethSpec spec{
      "qsr0123", {0xee, 0xee, 0xee, 0xee, 0xee, 0xee}, 1480, "eth0", {0x0a, 0x58, 1, 2, 3, 4}, 42};
  auto m = vethCreateMessage(spec);
  const nlmsghdr* nlh = m.header();
  EXPECT_EQ(nlh->nlmsg_type, RTM_NEWLINK);
  EXPECT_TRUE(nlh->nlmsg_flags & NLM_F_EXCL);
  auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  EXPECT_EQ(ifi->ifi_flags & IFF_UP, unsigned{IFF_UP});
  auto top = attrs(nlh, sizeof(ifinfomsg));
  ASSERT_TRUE(top.count(IFLA_IFNAME));
  EXPECT_STREQ(mnl_attr_get_str(top[IFLA_IFNAME]), "qsr0123");
  EXPECT_EQ(mnl_attr_get_u32(top[IFLA_MTU]), 1480u);
  ASSERT_TRUE(top.count(IFLA_LINKINFO));
  // IFLA_LINKINFO -> IFLA_INFO_DATA -> VETH_INFO_PEER -> ifinfomsg + attributes.
  const nlattr* data = nullptr;
  mnl_attr_parse_nested(
      top[IFLA_LINKINFO],
      [](const nlattr* it, void* out) -> int {
        if (mnl_attr_get_type(it) == IFLA_INFO_DATA) *static_cast<const nlattr**>(out) = it;
        return MNL_CB_OK;
      },
      &data);
  ASSERT_NE(data, nullptr);
  const nlattr* peer = static_cast<const nlattr*>(mnl_attr_get_payload(data));
  ASSERT_EQ(mnl_attr_get_type(peer), VETH_INFO_PEER);
  const auto* peer_payload = static_cast<const uint8_t*>(mnl_attr_get_payload(peer));
  const auto* peer_ifi = reinterpret_cast<const ifinfomsg*>(peer_payload);
  // The kernel cannot open the peer before the pair is linked (ENOTCONN): it stays down here.
  EXPECT_EQ(peer_ifi->ifi_flags & IFF_UP, 0u);
  std::map<int, const nlattr*> peer_attrs;
  const auto* a = reinterpret_cast<const nlattr*>(peer_payload + MNL_ALIGN(sizeof(ifinfomsg)));
  const auto* end = peer_payload + mnl_attr_get_payload_len(peer);
  while (reinterpret_cast<const uint8_t*>(a) < end) {
    peer_attrs[mnl_attr_get_type(a)] = a;
    a = reinterpret_cast<const nlattr*>(reinterpret_cast<const uint8_t*>(a) +
                                        MNL_ALIGN(a->nla_len));
  }
  EXPECT_STREQ(mnl_attr_get_str(peer_attrs[IFLA_IFNAME]), "eth0");
  EXPECT_EQ(mnl_attr_get_u32(peer_attrs[IFLA_NET_NS_FD]), 42u);
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

TEST(ErrnoStatus, MapsCodesCallersActOn) {
  EXPECT_TRUE(absl::IsAlreadyExists(errnoStatus(EEXIST, "x")));
  EXPECT_TRUE(absl::IsNotFound(errnoStatus(ENODEV, "x")));
  EXPECT_TRUE(absl::IsUnavailable(errnoStatus(EBUSY, "x")));
  EXPECT_NE(errnoStatus(EEXIST, "create veth a").message().find("create veth a"),
            std::string::npos);
}

}  // namespace
}  // namespace quasar::routing
