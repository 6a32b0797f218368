// The NFT_MSG_GETGEN request and reply as bytes, without a kernel (the netns suite asks a real
// one).

#include "netpolicy/kernel/nft_generation.h"

#include <arpa/inet.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace quasar::netpolicy {
namespace {

// Appends one attribute to a message being built.
void putAttr(std::vector<uint8_t>& msg, uint16_t type, const void* data, size_t len) {
  nlattr a{static_cast<uint16_t>(NLA_HDRLEN + len), type};
  const size_t at = msg.size();
  msg.resize(at + NLA_ALIGN(NLA_HDRLEN + len), 0);
  std::memcpy(msg.data() + at, &a, sizeof(a));
  std::memcpy(msg.data() + at + NLA_HDRLEN, data, len);
}

void setLength(std::vector<uint8_t>& msg) {
  reinterpret_cast<nlmsghdr*>(msg.data())->nlmsg_len = static_cast<uint32_t>(msg.size());
}

// What the kernel sends for generation `id`: NFT_MSG_NEWGEN with the id and the last writer.
std::vector<uint8_t> newGen(uint32_t seq, uint32_t id) {
  std::vector<uint8_t> msg(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)), 0);
  auto* nlh = reinterpret_cast<nlmsghdr*>(msg.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN;
  nlh->nlmsg_seq = seq;
  const uint32_t pid = htonl(4242);
  putAttr(msg, NFTA_GEN_PROC_PID, &pid, sizeof(pid));
  const uint32_t be = htonl(id);
  putAttr(msg, NFTA_GEN_ID, &be, sizeof(be));
  putAttr(msg, NFTA_GEN_PROC_NAME, "iptables-nft", 13);
  setLength(msg);
  return msg;
}

TEST(NftGeneration, RequestIsOneGetGenForEveryFamily) {
  const auto req = nftGenerationRequest(7);
  ASSERT_EQ(req.size(), NLMSG_SPACE(sizeof(nfgenmsg)));
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(req.data());
  EXPECT_EQ(nlh->nlmsg_len, NLMSG_LENGTH(sizeof(nfgenmsg)));
  EXPECT_EQ(nlh->nlmsg_type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN);
  EXPECT_EQ(nlh->nlmsg_flags, NLM_F_REQUEST);
  EXPECT_EQ(nlh->nlmsg_seq, 7u);
  const auto* gen = reinterpret_cast<const nfgenmsg*>(req.data() + NLMSG_HDRLEN);
  EXPECT_EQ(gen->nfgen_family, AF_UNSPEC);
  EXPECT_EQ(gen->version, NFNETLINK_V0);
  EXPECT_EQ(gen->res_id, 0);
}

TEST(NftGeneration, ReplyGivesTheIdInHostOrder) {
  const auto reply = newGen(7, 0x01020304);
  auto id = parseNftGenerationReply(reply.data(), reply.size(), 7);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, 0x01020304u);
}

TEST(NftGeneration, OtherSequencesAreSkipped) {
  auto datagram = newGen(3, 1);
  const auto ours = newGen(7, 99);
  datagram.insert(datagram.end(), ours.begin(), ours.end());
  auto id = parseNftGenerationReply(datagram.data(), datagram.size(), 7);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, 99u);
  auto none = parseNftGenerationReply(datagram.data(), newGen(3, 1).size(), 7);
  EXPECT_TRUE(absl::IsNotFound(none.status())) << none.status();
}

TEST(NftGeneration, KernelErrorCarriesErrnoAndExtendedAck) {
  std::vector<uint8_t> msg(NLMSG_HDRLEN + sizeof(nlmsgerr), 0);
  auto* nlh = reinterpret_cast<nlmsghdr*>(msg.data());
  nlh->nlmsg_type = NLMSG_ERROR;
  nlh->nlmsg_flags = NLM_F_CAPPED | NLM_F_ACK_TLVS;
  nlh->nlmsg_seq = 7;
  auto* err = reinterpret_cast<nlmsgerr*>(msg.data() + NLMSG_HDRLEN);
  err->error = -EPERM;
  err->msg.nlmsg_len = NLMSG_LENGTH(sizeof(nfgenmsg));
  putAttr(msg, NLMSGERR_ATTR_MSG, "not allowed here", 17);
  setLength(msg);
  auto id = parseNftGenerationReply(msg.data(), msg.size(), 7);
  EXPECT_TRUE(absl::IsPermissionDenied(id.status())) << id.status();
  EXPECT_NE(std::string(id.status().message()).find("not allowed here"), std::string::npos)
      << id.status();
}

TEST(NftGeneration, TruncatedOrIdlessRepliesAreDataLoss) {
  auto reply = newGen(7, 5);
  auto cut = parseNftGenerationReply(reply.data(), reply.size() - 4, 7);
  EXPECT_TRUE(absl::IsDataLoss(cut.status())) << cut.status();
  std::vector<uint8_t> bare(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)), 0);
  auto* nlh = reinterpret_cast<nlmsghdr*>(bare.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN;
  nlh->nlmsg_seq = 7;
  setLength(bare);
  auto idless = parseNftGenerationReply(bare.data(), bare.size(), 7);
  EXPECT_TRUE(absl::IsDataLoss(idless.status())) << idless.status();
}

}  // namespace
}  // namespace quasar::netpolicy
