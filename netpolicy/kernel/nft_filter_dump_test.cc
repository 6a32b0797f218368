// The filter table dump as bytes, without a kernel: the requests, and replies built the way the
// kernel sends them (the netns suite reads a real table, written by iptables-nft).

#include "netpolicy/kernel/nft_filter_dump.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace quasar::netpolicy {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes attr(uint16_t type, const void* data, size_t len) {
  Bytes out(NLA_ALIGN(NLA_HDRLEN + len), 0);
  const nlattr a{static_cast<uint16_t>(NLA_HDRLEN + len), type};
  std::memcpy(out.data(), &a, sizeof(a));
  if (len > 0) std::memcpy(out.data() + NLA_HDRLEN, data, len);
  return out;
}
Bytes str(uint16_t type, const std::string& s) { return attr(type, s.c_str(), s.size() + 1); }
Bytes u32(uint16_t type, uint32_t v) {
  const uint32_t be = htonl(v);
  return attr(type, &be, sizeof(be));
}
Bytes u64(uint16_t type, uint64_t v) {
  const uint64_t be = htobe64(v);
  return attr(type, &be, sizeof(be));
}
Bytes nested(uint16_t type, const std::vector<Bytes>& children) {
  Bytes payload;
  for (const auto& c : children) payload.insert(payload.end(), c.begin(), c.end());
  return attr(type | NLA_F_NESTED, payload.data(), payload.size());
}

Bytes counter(uint64_t packets, uint64_t bytes) {
  return nested(NFTA_LIST_ELEM, {str(NFTA_EXPR_NAME, "counter"),
                                 nested(NFTA_EXPR_DATA, {u64(NFTA_COUNTER_BYTES, bytes),
                                                         u64(NFTA_COUNTER_PACKETS, packets)})});
}
// An xt match ("-m set --match-set ..." and the like) with `info` as its private blob.
Bytes match(const std::string& name, const std::string& info) {
  return nested(NFTA_LIST_ELEM,
                {str(NFTA_EXPR_NAME, "match"),
                 nested(NFTA_EXPR_DATA, {str(NFTA_MATCH_NAME, name), u32(NFTA_MATCH_REV, 0),
                                         attr(NFTA_MATCH_INFO, info.data(), info.size())})});
}
Bytes verdict(int code, const std::string& chain = "") {
  std::vector<Bytes> parts = {u32(NFTA_VERDICT_CODE, static_cast<uint32_t>(code))};
  if (!chain.empty()) parts.push_back(str(NFTA_VERDICT_CHAIN, chain));
  return nested(
      NFTA_LIST_ELEM,
      {str(NFTA_EXPR_NAME, "immediate"),
       nested(NFTA_EXPR_DATA, {u32(NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT),
                               nested(NFTA_IMMEDIATE_DATA, {nested(NFTA_DATA_VERDICT, parts)})})});
}

Bytes message(int type, uint32_t seq, const std::vector<Bytes>& attrs, uint16_t flags = 0) {
  Bytes out(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)), 0);
  auto* nlh = reinterpret_cast<nlmsghdr*>(out.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | type;
  nlh->nlmsg_flags = NLM_F_MULTI | flags;
  nlh->nlmsg_seq = seq;
  for (const auto& a : attrs) out.insert(out.end(), a.begin(), a.end());
  reinterpret_cast<nlmsghdr*>(out.data())->nlmsg_len = static_cast<uint32_t>(out.size());
  return out;
}
Bytes chain(uint32_t seq, const std::string& table, const std::string& name) {
  return message(NFT_MSG_NEWCHAIN, seq, {str(NFTA_CHAIN_TABLE, table), str(NFTA_CHAIN_NAME, name)});
}
Bytes rule(uint32_t seq, const std::string& chain_name, const std::vector<Bytes>& exprs,
           uint64_t handle = 1, const std::string& table = "filter", uint16_t flags = 0) {
  return message(NFT_MSG_NEWRULE, seq,
                 {str(NFTA_RULE_TABLE, table), str(NFTA_RULE_CHAIN, chain_name),
                  u64(NFTA_RULE_HANDLE, handle), nested(NFTA_RULE_EXPRESSIONS, exprs)},
                 flags);
}
Bytes done(uint32_t seq, int32_t error = 0) {
  Bytes out(NLMSG_SPACE(sizeof(error)), 0);
  auto* nlh = reinterpret_cast<nlmsghdr*>(out.data());
  nlh->nlmsg_len = NLMSG_LENGTH(sizeof(error));
  nlh->nlmsg_type = NLMSG_DONE;
  nlh->nlmsg_flags = NLM_F_MULTI;
  nlh->nlmsg_seq = seq;
  std::memcpy(out.data() + NLMSG_HDRLEN, &error, sizeof(error));
  return out;
}
Bytes join(const std::vector<Bytes>& parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

absl::StatusOr<NftFilterDump> parse(const Bytes& datagram, uint32_t seq = 3) {
  NftFilterDump out;
  if (auto s = parseNftFilterDump(datagram.data(), datagram.size(), seq, out); !s.ok()) return s;
  return out;
}

TEST(NftFilterDump, RequestsDumpTableFilterOfTheFamily) {
  const auto req = nftFilterDumpRequest(NftDumpKind::kRules, conf::Family::kV6, 9, "FORWARD");
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(req.data());
  EXPECT_EQ(nlh->nlmsg_len, req.size());
  EXPECT_EQ(nlh->nlmsg_type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETRULE);
  EXPECT_EQ(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
  EXPECT_EQ(nlh->nlmsg_seq, 9u);
  const auto* gen = reinterpret_cast<const nfgenmsg*>(req.data() + NLMSG_HDRLEN);
  EXPECT_EQ(gen->nfgen_family, NFPROTO_IPV6);
  const Bytes attrs(req.begin() + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)), req.end());
  EXPECT_EQ(attrs, join({str(NFTA_RULE_TABLE, "filter"), str(NFTA_RULE_CHAIN, "FORWARD")}));

  const auto chains = nftFilterDumpRequest(NftDumpKind::kChains, conf::Family::kV4, 1);
  const auto* c = reinterpret_cast<const nlmsghdr*>(chains.data());
  EXPECT_EQ(c->nlmsg_type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETCHAIN);
  EXPECT_EQ(reinterpret_cast<const nfgenmsg*>(chains.data() + NLMSG_HDRLEN)->nfgen_family,
            NFPROTO_IPV4);
  EXPECT_EQ(Bytes(chains.begin() + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)), chains.end()),
            str(NFTA_CHAIN_TABLE, "filter"));
}

TEST(NftFilterDump, ListsQuasarChainsOfTableFilterAlsoEmptyOnes) {
  auto dump = parse(join({chain(3, "filter", "QUASAR-FORWARD"), chain(3, "filter", "KUBE-X"),
                          chain(3, "nat", "QUASAR-NAT"), chain(3, "filter", "QUASAR-I-1"),
                          rule(3, "QUASAR-I-1", {counter(0, 0), verdict(NF_ACCEPT)}),
                          rule(3, "QUASAR-N", {verdict(NF_DROP)}, 2, "nat"), done(3)}));
  ASSERT_TRUE(dump.ok()) << dump.status();
  EXPECT_TRUE(dump->done);
  EXPECT_FALSE(dump->interrupted);
  ASSERT_EQ(dump->state.chains.size(), 2u);
  EXPECT_TRUE(dump->state.chains.at("QUASAR-FORWARD").empty());
  ASSERT_EQ(dump->state.chains.at("QUASAR-I-1").size(), 1u);
  EXPECT_EQ(dump->state.chains.at("QUASAR-I-1")[0].rfind("nft:", 0), 0u);
}

TEST(NftFilterDump, DigestIgnoresCountersAndHandlesButNotTheRule) {
  auto digest = [](const std::vector<Bytes>& exprs, uint64_t handle) {
    auto d = parse(join({rule(3, "QUASAR-A", exprs, handle), done(3)}));
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? d->state.chains["QUASAR-A"].at(0) : std::string();
  };
  const std::string base = digest({counter(0, 0), match("set", "QSR-1"), verdict(NF_ACCEPT)}, 1);
  EXPECT_EQ(digest({counter(77, 9000), match("set", "QSR-1"), verdict(NF_ACCEPT)}, 42), base);
  EXPECT_NE(digest({counter(0, 0), match("set", "QSR-2"), verdict(NF_ACCEPT)}, 1), base);
  EXPECT_NE(digest({counter(0, 0), match("set", "QSR-1"), verdict(NF_DROP)}, 1), base);
  EXPECT_NE(digest({counter(0, 0), verdict(NF_ACCEPT)}, 1), base);
  EXPECT_NE(digest({counter(0, 0), verdict(NF_ACCEPT), match("set", "QSR-1")}, 1), base);
}

TEST(NftFilterDump, RulesKeepTheirOrder) {
  auto d = parse(join({rule(3, "QUASAR-A", {verdict(NF_ACCEPT)}, 5),
                       rule(3, "QUASAR-A", {verdict(NF_DROP)}, 2), done(3)}));
  ASSERT_TRUE(d.ok()) << d.status();
  auto accept = parse(join({rule(3, "QUASAR-A", {verdict(NF_ACCEPT)}), done(3)}));
  ASSERT_TRUE(accept.ok());
  ASSERT_EQ(d->state.chains["QUASAR-A"].size(), 2u);
  EXPECT_EQ(d->state.chains["QUASAR-A"][0], accept->state.chains["QUASAR-A"][0]);
}

TEST(NftFilterDump, HooksAreBareJumpsFromTheParentChain) {
  auto d = parse(join({
      rule(3, "FORWARD", {counter(1, 1), verdict(NFT_JUMP, "QUASAR-FORWARD")}, 1),
      rule(3, "FORWARD", {verdict(NFT_JUMP, "QUASAR-FORWARD")}, 2),
      // A jump from the wrong parent, with a match, to another program's chain, a goto.
      rule(3, "FORWARD", {verdict(NFT_JUMP, "QUASAR-INPUT")}, 3),
      rule(3, "INPUT", {match("comment", "x"), verdict(NFT_JUMP, "QUASAR-INPUT")}, 4),
      rule(3, "INPUT", {verdict(NFT_JUMP, "KUBE-FIREWALL")}, 5),
      rule(3, "INPUT", {verdict(NFT_GOTO, "QUASAR-INPUT")}, 6),
      rule(3, "INPUT", {verdict(NFT_JUMP, "QUASAR-INPUT")}, 7, "mangle"),
      done(3),
  }));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->state.hooks, (std::map<std::string, int>{{"QUASAR-FORWARD", 2}}));
}

TEST(NftFilterDump, OtherSequencesAreSkippedAndDoneEndsTheDump) {
  auto d = parse(join({rule(2, "QUASAR-OLD", {verdict(NF_ACCEPT)}), done(2)}));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->done);
  EXPECT_TRUE(d->state.chains.empty());
}

TEST(NftFilterDump, InterruptedDumpIsFlagged) {
  auto d = parse(
      join({rule(3, "QUASAR-A", {verdict(NF_ACCEPT)}, 1, "filter", NLM_F_DUMP_INTR), done(3)}));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->interrupted);
}

TEST(NftFilterDump, KernelErrorsAndDamagedMessagesAreReported) {
  auto failed = parse(done(3, -EPERM));
  EXPECT_TRUE(absl::IsPermissionDenied(failed.status())) << failed.status();

  Bytes err(NLMSG_HDRLEN + sizeof(nlmsgerr), 0);
  auto* nlh = reinterpret_cast<nlmsghdr*>(err.data());
  nlh->nlmsg_len = static_cast<uint32_t>(err.size());
  nlh->nlmsg_type = NLMSG_ERROR;
  nlh->nlmsg_seq = 3;
  reinterpret_cast<nlmsgerr*>(err.data() + NLMSG_HDRLEN)->error = -ENOENT;
  auto missing = parse(err);
  EXPECT_TRUE(absl::IsInternal(missing.status())) << missing.status();
  EXPECT_NE(std::string(missing.status().message()).find("table filter"), std::string::npos);

  const Bytes whole = rule(3, "QUASAR-A", {verdict(NF_ACCEPT)});
  auto cut = parse(Bytes(whole.begin(), whole.end() - 8));
  EXPECT_TRUE(absl::IsDataLoss(cut.status())) << cut.status();
}

}  // namespace
}  // namespace quasar::netpolicy
