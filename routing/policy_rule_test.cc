#include "routing/policy_rule.h"

#include <gtest/gtest.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <bit>
#include <cstring>
#include <map>
#include <vector>

namespace quasar::routing {
namespace {

conf::IpPrefix P(const char* s) { return *conf::IpPrefix::parse(s); }

std::vector<uint8_t> bytes(const NlMessage& m) {
  const auto* p = reinterpret_cast<const uint8_t*>(m.header());
  return {p, p + m.size()};
}

std::map<int, const nlattr*> attrs(const nlmsghdr* nlh) {
  std::map<int, const nlattr*> out;
  nl::forEachAttr(nlh, sizeof(fib_rule_hdr), [&out](const nlattr* a) { out[nl::attrType(a)] = a; });
  return out;
}

Rule fromPod() {
  Rule r;
  r.priority = 20200;
  r.src = P("10.90.1.21/32");
  r.table = 10001;
  return r;
}

TEST(PolicyRuleMessages, AddIsByteForByteTheRuleIpRuleShowsAs) {
  if constexpr (std::endian::native != std::endian::little) GTEST_SKIP() << "little-endian golden";
  // `ip rule` shows it as: 20200: from 10.90.1.21 lookup 10001 proto 114
  // clang-format off
  const std::vector<uint8_t> want = {
      60, 0, 0, 0,                            // nlmsg_len
      RTM_NEWRULE, 0,                         // nlmsg_type
      0x01, 0x06,                             // NLM_F_REQUEST | NLM_F_EXCL | NLM_F_CREATE
      0, 0, 0, 0, 0, 0, 0, 0,                 // seq, pid (the socket sets them)
      AF_INET, 0, 32, 0,                      // family, dst_len, src_len, tos
      RT_TABLE_UNSPEC, 0, 0, FR_ACT_TO_TBL,   // table past 255: see FRA_TABLE
      0, 0, 0, 0,                             // flags
      8, 0, FRA_PRIORITY, 0, 0xe8, 0x4e, 0, 0,  // 20200
      8, 0, FRA_TABLE, 0, 0x11, 0x27, 0, 0,     // 10001
      5, 0, FRA_PROTOCOL, 0, 114, 0, 0, 0,      // quasar's, padded to 4 bytes
      8, 0, FRA_SRC, 0, 10, 90, 1, 21,
  };
  // clang-format on
  EXPECT_EQ(bytes(ruleAddMessage(fromPod())), want);
}

TEST(PolicyRuleMessages, SmallTablesAlsoGoInTheHeaderAndPrefixesAsNetworks) {
  Rule r;
  r.priority = 20100;
  r.dst = P("10.90.1.77/24");  // host bits are not sent
  auto m = ruleAddMessage(r);
  const auto* frh = static_cast<const fib_rule_hdr*>(nl::payload(m.header()));
  EXPECT_EQ(frh->table, RT_TABLE_MAIN);
  EXPECT_EQ(frh->dst_len, 24);
  EXPECT_EQ(frh->src_len, 0);
  auto top = attrs(m.header());
  EXPECT_FALSE(top.count(FRA_SRC));
  ASSERT_TRUE(top.count(FRA_DST));
  const uint8_t net[4] = {10, 90, 1, 0};
  EXPECT_EQ(std::memcmp(nl::attrPayload(top[FRA_DST]), net, 4), 0);
  EXPECT_EQ(nl::attrU32(top[FRA_TABLE]), RT_TABLE_MAIN);
}

TEST(PolicyRuleMessages, DeleteNamesTheRuleByEverySelectorItHas) {
  Rule r = fromPod();
  r.iif = "qsr0";
  r.fwmark = 0x40;
  r.fwmask = 0xff;
  auto m = ruleDeleteMessage(r);
  EXPECT_EQ(m.header()->nlmsg_type, RTM_DELRULE);
  EXPECT_FALSE(m.header()->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL));
  auto top = attrs(m.header());
  EXPECT_EQ(nl::attrU32(top[FRA_PRIORITY]), 20200u);
  EXPECT_EQ(nl::attrU32(top[FRA_TABLE]), 10001u);
  EXPECT_EQ(*static_cast<const uint8_t*>(nl::attrPayload(top[FRA_PROTOCOL])), kRuleProtocol);
  EXPECT_STREQ(nl::attrString(top[FRA_IIFNAME]), "qsr0");
  EXPECT_EQ(nl::attrU32(top[FRA_FWMARK]), 0x40u);
  EXPECT_EQ(nl::attrU32(top[FRA_FWMASK]), 0xffu);
}

TEST(PolicyRuleMessages, DumpAsksForOneFamily) {
  auto m = ruleDumpMessage(conf::Family::kV6);
  EXPECT_EQ(m.header()->nlmsg_type, RTM_GETRULE);
  EXPECT_EQ(static_cast<const fib_rule_hdr*>(nl::payload(m.header()))->family, AF_INET6);
  EXPECT_EQ(m.size(), nl::kHeaderLen + sizeof(fib_rule_hdr));
}

TEST(PolicyRuleParser, RoundTripsIpv4AndIpv6) {
  Rule v4 = fromPod();
  v4.oif = "ens6";
  v4.tos = 0x10;
  v4.flags = FIB_RULE_INVERT;
  auto parsed = parseRule(ruleAddMessage(v4).header());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, v4) << parsed->toString();

  Rule v6;
  v6.family = conf::Family::kV6;
  v6.priority = 20100;
  v6.dst = P("fd00:90::15/128");
  parsed = parseRule(ruleAddMessage(v6).header());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, v6) << parsed->toString();
  EXPECT_EQ(parsed->toString(), "pref 20100 from all to fd00:90::15/128 lookup 254 proto 114");
}

// What the kernel sends for its own rules: no FRA_PRIORITY for pref 0, the table in both places,
// "suppress_prefixlength -1", and attributes quasar does not model.
TEST(PolicyRuleParser, ReadsKernelRulesAndFlagsSelectorsItDoesNotModel) {
  NlMessage local(RTM_NEWRULE, 0);
  auto* frh = local.putHeader<fib_rule_hdr>();
  frh->family = AF_INET;
  frh->table = RT_TABLE_LOCAL;
  frh->action = FR_ACT_TO_TBL;
  local.putU32(FRA_TABLE, RT_TABLE_LOCAL);
  local.putU8(FRA_PROTOCOL, RTPROT_KERNEL);
  local.putU32(FRA_SUPPRESS_PREFIXLEN, 0xffffffff);  // -1: not set, on every rule since 3.12
  auto r = parseRule(local.header());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->priority, 0u);
  EXPECT_EQ(r->table, unsigned{RT_TABLE_LOCAL});
  EXPECT_EQ(r->protocol, RTPROT_KERNEL);
  EXPECT_FALSE(r->src || r->dst);
  EXPECT_FALSE(r->unmodelled);

  // wg-quick's "suppress_prefixlength 0": the same rule otherwise, but never equal to a plan.
  auto m = ruleAddMessage(fromPod());
  m.putU32(FRA_SUPPRESS_PREFIXLEN, 0);
  r = parseRule(m.header());
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->unmodelled);
  EXPECT_NE(*r, fromPod());
}

TEST(PolicyRuleParser, RefusesOtherTypesFamiliesAndMalformedMessages) {
  auto m = ruleAddMessage(fromPod());
  m.header()->nlmsg_type = RTM_DELRULE;  // a removal's notification reads the same
  EXPECT_TRUE(parseRule(m.header()));
  m.header()->nlmsg_type = RTM_NEWROUTE;
  EXPECT_FALSE(parseRule(m.header()));
  m.header()->nlmsg_type = RTM_NEWRULE;

  auto* frh = static_cast<fib_rule_hdr*>(const_cast<void*>(nl::payload(m.header())));
  frh->family = AF_BRIDGE;
  EXPECT_FALSE(parseRule(m.header()));
  frh->family = AF_INET;
  frh->src_len = 33;  // longer than the address
  EXPECT_FALSE(parseRule(m.header()));
  frh->src_len = 32;

  // An IPv6-length source in an IPv4 rule.
  NlMessage bad(RTM_NEWRULE, 0);
  auto* bh = bad.putHeader<fib_rule_hdr>();
  bh->family = AF_INET;
  bh->src_len = 32;
  const uint8_t v6[16] = {0xfd};
  bad.putBytes(FRA_SRC, v6, sizeof(v6));
  EXPECT_FALSE(parseRule(bad.header()));

  // Only a netlink header: not read past its end.
  nlmsghdr bare{};
  bare.nlmsg_len = nl::kHeaderLen;
  bare.nlmsg_type = RTM_NEWRULE;
  EXPECT_FALSE(parseRule(&bare));
}

}  // namespace
}  // namespace quasar::routing
