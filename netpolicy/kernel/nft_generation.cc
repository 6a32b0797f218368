#include "netpolicy/kernel/nft_generation.h"

// netpolicy/ speaks netfilter's own netlink subsystem here (as libipset does for sets); rtnetlink
// stays routing/'s (scripts/check-layering.sh names this file).
#include <arpa/inet.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"

namespace quasar::netpolicy {
namespace {

constexpr uint16_t kGetGen = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
constexpr uint16_t kNewGen = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN;

absl::Status errnoStatus(int err, const std::string& what) {
  const std::string msg = absl::StrCat(what, ": ", strerror(err));
  switch (err) {
    case EAGAIN:
    case EINTR:
    case ENOBUFS:
    case EPROTONOSUPPORT:
    case EAFNOSUPPORT:
      return absl::UnavailableError(msg);
    case EPERM:
    case EACCES:
      return absl::PermissionDeniedError(msg);
    case EOPNOTSUPP:
      return absl::UnimplementedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

// The extended ack's message (NLMSGERR_ATTR_MSG) of an NLMSG_ERROR, or "".
std::string extAckText(const nlmsghdr* nlh, const nlmsgerr* err) {
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  size_t offset = NLMSG_HDRLEN + sizeof(nlmsgerr);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - NLMSG_HDRLEN;
  offset = NLMSG_ALIGN(offset);
  const auto* base = reinterpret_cast<const uint8_t*>(nlh);
  while (offset + NLA_HDRLEN <= nlh->nlmsg_len) {
    const auto* attr = reinterpret_cast<const nlattr*>(base + offset);
    if (attr->nla_len < NLA_HDRLEN || offset + attr->nla_len > nlh->nlmsg_len) break;
    if ((attr->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
      const char* text = reinterpret_cast<const char*>(attr) + NLA_HDRLEN;
      return std::string(text, strnlen(text, attr->nla_len - NLA_HDRLEN));
    }
    offset += NLA_ALIGN(attr->nla_len);
  }
  return "";
}

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
  size_t offset = 0;
  while (offset + NLMSG_HDRLEN <= len) {
    nlmsghdr nlh_copy;
    std::memcpy(&nlh_copy, data + offset, sizeof(nlh_copy));
    if (nlh_copy.nlmsg_len < NLMSG_HDRLEN || offset + nlh_copy.nlmsg_len > len) {
      return absl::DataLossError("nft generation: truncated netlink message");
    }
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(data + offset);
    const size_t msg_len = nlh->nlmsg_len;
    offset += NLMSG_ALIGN(msg_len);
    if (nlh->nlmsg_seq != seq) continue;
    if (nlh->nlmsg_type == NLMSG_ERROR) {
      if (msg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
        return absl::DataLossError("nft generation: short NLMSG_ERROR");
      }
      const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(nlh));
      if (err->error == 0) return absl::DataLossError("nft generation: ack without a reply");
      std::string what = "nft generation (NFT_MSG_GETGEN)";
      if (std::string ack = extAckText(nlh, err); !ack.empty()) absl::StrAppend(&what, ": ", ack);
      return errnoStatus(-err->error, what);
    }
    if (nlh->nlmsg_type != kNewGen) continue;
    size_t at = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg));
    const auto* base = reinterpret_cast<const uint8_t*>(nlh);
    while (at + NLA_HDRLEN <= msg_len) {
      nlattr attr;
      std::memcpy(&attr, base + at, sizeof(attr));
      if (attr.nla_len < NLA_HDRLEN || at + attr.nla_len > msg_len) break;
      if ((attr.nla_type & NLA_TYPE_MASK) == NFTA_GEN_ID && attr.nla_len >= NLA_HDRLEN + 4) {
        uint32_t id;
        std::memcpy(&id, base + at + NLA_HDRLEN, sizeof(id));
        return ntohl(id);
      }
      at += NLA_ALIGN(attr.nla_len);
    }
    return absl::DataLossError("nft generation: NFT_MSG_NEWGEN without NFTA_GEN_ID");
  }
  return absl::NotFoundError(absl::StrCat("nft generation: no reply with seq ", seq));
}

absl::StatusOr<uint32_t> readNftGeneration() {
  const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    const int err = errno;
    return errnoStatus(err, "socket(NETLINK_NETFILTER)");
  }
  absl::Cleanup close_fd = [fd] { ::close(fd); };
  const int one = 1;
  // Best effort: older kernels have no extended acks, and the error is still reported without.
  (void)::setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
  // The kernel answers at once; a second is only a guard against blocking the caller forever.
  const timeval timeout{1, 0};
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) != 0) {
    const int err = errno;
    return errnoStatus(err, "setsockopt(SO_RCVTIMEO) on the nfnetlink socket");
  }
  // One socket per read: the sequence number need not be unique across sockets.
  constexpr uint32_t kSeq = 1;
  const std::vector<uint8_t> request = nftGenerationRequest(kSeq);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof(kernel)) < 0) {
    const int err = errno;
    return errnoStatus(err, "send NFT_MSG_GETGEN");
  }
  alignas(nlmsghdr) uint8_t buf[8192];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return errnoStatus(err, "receive the NFT_MSG_GETGEN reply");
    }
    auto id = parseNftGenerationReply(buf, static_cast<size_t>(n), kSeq);
    if (absl::IsNotFound(id.status())) continue;  // not ours (none expected: no groups joined)
    return id;
  }
}

}  // namespace quasar::netpolicy
