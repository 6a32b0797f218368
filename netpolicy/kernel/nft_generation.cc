#include "netpolicy/kernel/nft_generation.h"

// netpolicy/ speaks netfilter's own netlink subsystem here (as libipset does for sets); rtnetlink
// stays routing/'s (scripts/check-layering.sh names the nft_* files).
#include <arpa/inet.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "netpolicy/kernel/nft_socket.h"

namespace quasar::netpolicy {
namespace {

constexpr uint16_t kGetGen = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
constexpr uint16_t kNewGen = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN;

}  // namespace

std::vector<uint8_t> nftGenerationRequest(uint32_t seq) {
  std::vector<uint8_t> out(NLMSG_SPACE(sizeof(nfgenmsg)), 0);
  auto* nlh = reinterpret_cast<nlmsghdr*>(out.data());
  nlh->nlmsg_len = NLMSG_LENGTH(sizeof(nfgenmsg));
  nlh->nlmsg_type = kGetGen;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = seq;
  auto* gen = static_cast<nfgenmsg*>(NLMSG_DATA(nlh));
  gen->nfgen_family = AF_UNSPEC;
  gen->version = NFNETLINK_V0;
  gen->res_id = 0;
  return out;
}

absl::StatusOr<uint32_t> parseNftGenerationReply(const uint8_t* data, size_t len, uint32_t seq) {
  absl::StatusOr<uint32_t> out =
      absl::NotFoundError(absl::StrCat("nft generation: no reply with seq ", seq));
  absl::Status walked = forEachNlMessage(data, len, [&](const nlmsghdr* nlh) {
    if (nlh->nlmsg_seq != seq) return true;
    if (nlh->nlmsg_type == NLMSG_ERROR) {
      absl::Status s = nftErrorStatus(nlh, nlh->nlmsg_len, "nft generation (NFT_MSG_GETGEN)");
      out = s.ok() ? absl::DataLossError("nft generation: ack without a reply") : s;
      return false;
    }
    if (nlh->nlmsg_type != kNewGen) return true;
    out = absl::DataLossError("nft generation: NFT_MSG_NEWGEN without NFTA_GEN_ID");
    for (const NlAttr& a : nfMessageAttrs(nlh)) {
      uint32_t id;
      if (a.type == NFTA_GEN_ID && a.u32(id)) {
        out = id;
        break;
      }
    }
    return false;
  });
  if (!walked.ok()) return absl::DataLossError("nft generation: truncated netlink message");
  return out;
}

absl::StatusOr<uint32_t> readNftGeneration() {
  auto sock = NftSocket::open();
  if (!sock.ok()) return sock.status();
  // One socket per read: the sequence number need not be unique across sockets.
  constexpr uint32_t kSeq = 1;
  if (auto s = sock->send(nftGenerationRequest(kSeq), "NFT_MSG_GETGEN"); !s.ok()) return s;
  std::vector<uint8_t> buf;
  for (;;) {
    if (auto s = sock->receive(buf, "the NFT_MSG_GETGEN reply"); !s.ok()) return s;
    auto id = parseNftGenerationReply(buf.data(), buf.size(), kSeq);
    if (absl::IsNotFound(id.status())) continue;  // not ours (none expected: no groups joined)
    return id;
  }
}

}  // namespace quasar::netpolicy
