#include "routing/netlink_socket.h"

#include <errno.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <vector>

#include "absl/strings/str_cat.h"

namespace quasar::routing {
namespace {

// Reads NLMSGERR_ATTR_MSG (the kernel's reason) from an error message's extended ack TLVs.
std::string extAckText(const nlmsghdr* nlh) {
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  const auto* err = static_cast<const nlmsgerr*>(nl::payload(nlh));
  // With NETLINK_CAP_ACK the request is not echoed, so the TLVs follow nlmsgerr directly.
  size_t offset = sizeof(nlmsgerr);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
  std::string text;
  nl::forEachAttr(nlh, offset, [&text](const nlattr* attr) {
    if (nl::attrType(attr) == NLMSGERR_ATTR_MSG && nl::attrString(attr)) {
      text = nl::attrString(attr);
    }
  });
  return text;
}

// The outcome of one request from its NLMSG_ERROR answer: OK, or the error with the kernel's
// own reason when it sent one.
absl::Status ackStatus(const nlmsghdr* nlh, absl::string_view what) {
  const auto* err = static_cast<const nlmsgerr*>(nl::payload(nlh));
  if (err->error == 0) return absl::OkStatus();
  absl::Status s = errnoStatus(-err->error, what);
  const std::string ack = extAckText(nlh);
  if (ack.empty()) return s;
  return absl::Status(s.code(), absl::StrCat(s.message(), " (kernel: ", ack, ")"));
}

}  // namespace

absl::Status errnoStatus(int err, absl::string_view what) {
  std::string msg = absl::StrCat(what, ": ", strerror(err));
  switch (err) {
    case EEXIST:
      return absl::AlreadyExistsError(msg);
    case ENODEV:
    case ENOENT:
    case ESRCH:
      return absl::NotFoundError(msg);
    case EPERM:
    case EACCES:
      return absl::PermissionDeniedError(msg);
    case EBUSY:
    case EAGAIN:
    case EINTR:
      return absl::UnavailableError(msg);
    case EINVAL:
    case ERANGE:
      return absl::InvalidArgumentError(msg);
    case EOPNOTSUPP:  // e.g. a link kind this kernel was built without
      return absl::UnimplementedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::StatusOr<NetlinkSocket> NetlinkSocket::open() {
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd.valid()) return errnoStatus(errno, "open rtnetlink socket");
  int one = 1;
  // Best effort: without them errors only lose the kernel's text.
  ::setsockopt(fd.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
  ::setsockopt(fd.get(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  socklen_t len = sizeof(addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return errnoStatus(errno, "bind rtnetlink socket");
  }
  return NetlinkSocket(std::move(fd), addr.nl_pid);
}

absl::StatusOr<int> NetlinkSocket::linkIndex(const std::string& name) const {
  ifreq ifr{};
  if (name.empty() || name.size() >= sizeof(ifr.ifr_name)) {
    return absl::InvalidArgumentError(absl::StrCat("link name \"", name, "\" is not valid"));
  }
  name.copy(ifr.ifr_name, name.size());
  // A netlink socket has no ioctls of its own: the kernel answers this one for the socket's
  // namespace.
  if (::ioctl(fd_.get(), SIOCGIFINDEX, &ifr) != 0) {
    return errnoStatus(errno, absl::StrCat("get link ", name));
  }
  return ifr.ifr_ifindex;
}

absl::StatusOr<Fd> NetlinkSocket::openNamespace() const {
  Fd ns(::ioctl(fd_.get(), SIOCGSKNS));
  if (!ns.valid()) return errnoStatus(errno, "open the socket's netns");
  return ns;
}

absl::Status NetlinkSocket::send(NlMessage& msg, absl::string_view what) {
  msg.header()->nlmsg_seq = seq_++;
  return sendBytes(msg.header(), msg.size(), what);
}

absl::Status NetlinkSocket::sendBytes(const void* data, size_t len, absl::string_view what) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_.get(), data, len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) <
      0) {
    return errnoStatus(errno, absl::StrCat(what, ": send"));
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> NetlinkSocket::receive(std::vector<uint8_t>& buf, absl::string_view what) {
  while (true) {
    // The datagram's whole length (MSG_TRUNC answers it, MSG_PEEK leaves the datagram queued):
    // a link with many VFs or altnames makes one message larger than any fixed buffer, and a
    // read into a smaller buffer would silently drop its end.
    ssize_t n = ::recv(fd_.get(), nullptr, 0, MSG_PEEK | MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoStatus(errno, absl::StrCat(what, ": receive"));
    }
    if (static_cast<size_t>(n) > buf.size()) buf.resize(static_cast<size_t>(n));
    iovec iov{buf.data(), buf.size()};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    // The full buffer size, even when the peek said less: the kernel sizes the next dump
    // datagrams after the largest read it has seen.
    n = ::recvmsg(fd_.get(), &mh, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoStatus(errno, absl::StrCat(what, ": receive"));
    }
    if (mh.msg_flags & MSG_TRUNC) {
      return absl::DataLossError(
          absl::StrCat(what, ": receive: a datagram larger than ", buf.size(), " bytes was cut"));
    }
    return static_cast<size_t>(n);
  }
}

absl::Status NetlinkSocket::request(NlMessage& msg, absl::string_view what,
                                    const std::function<void(const nlmsghdr*)>& on_reply) {
  msg.header()->nlmsg_flags |= NLM_F_ACK;
  if (auto s = send(msg, what); !s.ok()) return s;
  const uint32_t seq = msg.header()->nlmsg_seq;
  std::vector<uint8_t> buf(kReceiveBuffer);
  while (true) {
    auto n = receive(buf, what);
    if (!n.ok()) return n.status();
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
    size_t len = *n;
    for (; nl::messageOk(nlh, len); nlh = nl::nextMessage(nlh, len)) {
      if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != portid_) continue;
      if (nlh->nlmsg_type != NLMSG_ERROR) {
        if (on_reply) on_reply(nlh);
        continue;
      }
      return ackStatus(nlh, what);
    }
  }
}

absl::Status NetlinkSocket::requestAll(std::vector<Request>& requests,
                                       std::vector<absl::Status>* each) {
  if (each != nullptr) each->clear();
  if (requests.empty()) return absl::OkStatus();
  // Without an answer, every request's result is the transport's error.
  auto failAll = [&](absl::Status s) {
    if (each != nullptr) each->assign(requests.size(), s);
    return s;
  };
  std::vector<uint8_t> out;
  const uint32_t first_seq = seq_;
  for (auto& r : requests) {
    nlmsghdr* h = r.msg.header();
    h->nlmsg_flags |= NLM_F_ACK;
    h->nlmsg_seq = seq_++;
    const auto* p = reinterpret_cast<const uint8_t*>(h);
    out.insert(out.end(), p, p + nl::align(r.msg.size()));
  }
  if (auto s = sendBytes(out.data(), out.size(), requests.front().what); !s.ok()) {
    return failAll(s);
  }
  std::vector<absl::Status> results(requests.size());
  size_t acked = 0;
  std::vector<uint8_t> buf(kReceiveBuffer);
  while (acked < requests.size()) {
    auto n = receive(buf, requests.front().what);
    if (!n.ok()) return failAll(n.status());
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
    size_t len = *n;
    for (; nl::messageOk(nlh, len); nlh = nl::nextMessage(nlh, len)) {
      const uint32_t i = nlh->nlmsg_seq - first_seq;
      if (nlh->nlmsg_pid != portid_ || i >= requests.size() || nlh->nlmsg_type != NLMSG_ERROR) {
        continue;
      }
      ++acked;
      results[i] = ackStatus(nlh, requests[i].what);
    }
  }
  absl::Status first;
  for (auto& s : results) {
    if (!s.ok()) {
      first = s;
      break;
    }
  }
  if (each != nullptr) *each = std::move(results);
  return first;
}

absl::Status NetlinkSocket::dump(NlMessage& msg,
                                 const std::function<void(const nlmsghdr*)>& on_message,
                                 absl::string_view what) {
  constexpr int kAttempts = 5;
  std::vector<uint8_t> buf(kReceiveBuffer * 4);
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    msg.header()->nlmsg_flags |= NLM_F_DUMP;
    if (auto s = send(msg, what); !s.ok()) return s;
    const uint32_t seq = msg.header()->nlmsg_seq;
    std::vector<std::vector<uint8_t>> messages;
    bool interrupted = false;
    bool done = false;
    while (!done) {
      auto n = receive(buf, what);
      if (!n.ok()) return n.status();
      const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
      size_t len = *n;
      for (; nl::messageOk(nlh, len); nlh = nl::nextMessage(nlh, len)) {
        if (nlh->nlmsg_seq != seq) continue;
        if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
        if (nlh->nlmsg_type == NLMSG_DONE) {
          // The kernel ends a dump it could not finish with the error in NLMSG_DONE.
          int err = 0;
          if (nlh->nlmsg_len >= nl::kHeaderLen + sizeof(err)) {
            std::memcpy(&err, nl::payload(nlh), sizeof(err));
          }
          if (err < 0) return errnoStatus(-err, absl::StrCat(what, ": dump"));
          done = true;
          break;
        }
        if (nlh->nlmsg_type == NLMSG_ERROR) {
          if (auto s = ackStatus(nlh, what); !s.ok()) return s;
          continue;
        }
        const auto* p = reinterpret_cast<const uint8_t*>(nlh);
        messages.emplace_back(p, p + nlh->nlmsg_len);
      }
    }
    if (interrupted) continue;
    for (const auto& m : messages) on_message(reinterpret_cast<const nlmsghdr*>(m.data()));
    return absl::OkStatus();
  }
  return absl::UnavailableError(
      absl::StrCat(what, ": the dump was interrupted by concurrent changes ", kAttempts, " times"));
}

}  // namespace quasar::routing
