#include "netpolicy/kernel/nft_socket.h"

// netpolicy/ speaks netfilter's own netlink subsystem here (as libipset does for sets); rtnetlink
// stays routing/'s (scripts/check-layering.sh names the nft_* files).
#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace quasar::netpolicy {
namespace {

// The extended ack's message (NLMSGERR_ATTR_MSG) of an NLMSG_ERROR, or "".
std::string extAckText(const nlmsghdr* nlh, size_t len, const nlmsgerr* err) {
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  size_t offset = NLMSG_HDRLEN + sizeof(nlmsgerr);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - NLMSG_HDRLEN;
  offset = NLMSG_ALIGN(offset);
  if (offset >= len) return "";
  for (const NlAttr& a : nlAttrs(reinterpret_cast<const uint8_t*>(nlh) + offset, len - offset)) {
    if (a.type == NLMSGERR_ATTR_MSG) return std::string(a.str());
  }
  return "";
}

}  // namespace

absl::Status nftErrnoStatus(int err, std::string_view what) {
  const std::string msg = absl::StrCat(std::string(what), ": ", strerror(err));
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

absl::Status nftErrorStatus(const nlmsghdr* nlh, size_t len, std::string_view what) {
  if (len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
    return absl::DataLossError(absl::StrCat(std::string(what), ": short NLMSG_ERROR"));
  }
  const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(nlh));
  if (err->error == 0) return absl::OkStatus();
  std::string text(what);
  if (std::string ack = extAckText(nlh, len, err); !ack.empty()) absl::StrAppend(&text, ": ", ack);
  return nftErrnoStatus(-err->error, text);
}

absl::Status forEachNlMessage(const uint8_t* data, size_t len,
                              const std::function<bool(const nlmsghdr*)>& fn) {
  size_t offset = 0;
  while (offset + NLMSG_HDRLEN <= len) {
    nlmsghdr copy;
    std::memcpy(&copy, data + offset, sizeof(copy));
    if (copy.nlmsg_len < NLMSG_HDRLEN || offset + copy.nlmsg_len > len) {
      return absl::DataLossError("nftables netlink: truncated message");
    }
    if (!fn(reinterpret_cast<const nlmsghdr*>(data + offset))) break;
    offset += NLMSG_ALIGN(copy.nlmsg_len);
  }
  return absl::OkStatus();
}

std::string_view NlAttr::str() const {
  const char* text = reinterpret_cast<const char*>(data);
  return std::string_view(text, strnlen(text, len));
}

bool NlAttr::u32(uint32_t& out) const {
  if (len < sizeof(out)) return false;
  std::memcpy(&out, data, sizeof(out));
  out = ntohl(out);
  return true;
}

std::vector<NlAttr> nlAttrs(const uint8_t* data, size_t len) {
  std::vector<NlAttr> out;
  size_t at = 0;
  while (at + NLA_HDRLEN <= len) {
    nlattr a;
    std::memcpy(&a, data + at, sizeof(a));
    if (a.nla_len < NLA_HDRLEN || at + a.nla_len > len) break;
    out.push_back({static_cast<uint16_t>(a.nla_type & NLA_TYPE_MASK), data + at + NLA_HDRLEN,
                   static_cast<size_t>(a.nla_len - NLA_HDRLEN)});
    at += NLA_ALIGN(a.nla_len);
  }
  return out;
}

std::vector<NlAttr> nfMessageAttrs(const nlmsghdr* nlh) {
  const size_t start = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg));
  if (nlh->nlmsg_len < start) return {};
  return nlAttrs(reinterpret_cast<const uint8_t*>(nlh) + start, nlh->nlmsg_len - start);
}

absl::StatusOr<NftSocket> NftSocket::open() {
  const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    const int err = errno;
    return nftErrnoStatus(err, "socket(NETLINK_NETFILTER)");
  }
  NftSocket sock(fd);
  const int one = 1;
  // Best effort: older kernels have no extended acks, and the error is still reported without.
  (void)::setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
  // The kernel answers at once; a second is only a guard against blocking the caller forever.
  const timeval timeout{1, 0};
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) != 0) {
    const int err = errno;
    return nftErrnoStatus(err, "setsockopt(SO_RCVTIMEO) on the nfnetlink socket");
  }
  return sock;
}

NftSocket::NftSocket(NftSocket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

NftSocket& NftSocket::operator=(NftSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

NftSocket::~NftSocket() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status NftSocket::send(const std::vector<uint8_t>& request, std::string_view what) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof(kernel)) < 0) {
    const int err = errno;
    return nftErrnoStatus(err, absl::StrCat("send ", std::string(what)));
  }
  return absl::OkStatus();
}

absl::Status NftSocket::receive(std::vector<uint8_t>& buf, std::string_view what) {
  // A dump's datagrams are at most 32 KiB (the kernel's largest netlink dump buffer); twice
  // that leaves room.
  buf.resize(64 * 1024);
  for (;;) {
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    const ssize_t n = ::recvmsg(fd_, &msg, 0);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return nftErrnoStatus(err, absl::StrCat("receive ", std::string(what)));
    }
    if (msg.msg_flags & MSG_TRUNC) {
      return absl::DataLossError(
          absl::StrCat("receive ", std::string(what), ": datagram truncated"));
    }
    buf.resize(static_cast<size_t>(n));
    return absl::OkStatus();
  }
}

}  // namespace quasar::netpolicy
