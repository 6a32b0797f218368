#include "routing/netlink_socket.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <vector>

#include "absl/strings/str_cat.h"

namespace quasar::routing {
namespace {

// Reads NLMSGERR_ATTR_MSG (the kernel's reason) from an error message's extended ack TLVs.
std::string extAckText(const nlmsghdr* nlh) {
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  // With NETLINK_CAP_ACK the request is not echoed, so the TLVs follow nlmsgerr directly.
  size_t offset = sizeof(nlmsgerr);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
  std::string text;
  mnl_attr_parse(
      nlh, offset,
      [](const nlattr* attr, void* data) -> int {
        if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
            mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0) {
          *static_cast<std::string*>(data) = mnl_attr_get_str(attr);
        }
        return MNL_CB_OK;
      },
      &text);
  return text;
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
    default:
      return absl::InternalError(msg);
  }
}

absl::StatusOr<NetlinkSocket> NetlinkSocket::open() {
  Sock sock(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC), &mnl_socket_close);
  if (!sock) return errnoStatus(errno, "open rtnetlink socket");
  int one = 1;
  // Best effort: without them errors only lose the kernel's text.
  mnl_socket_setsockopt(sock.get(), NETLINK_EXT_ACK, &one, sizeof(one));
  mnl_socket_setsockopt(sock.get(), NETLINK_CAP_ACK, &one, sizeof(one));
  if (mnl_socket_bind(sock.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return errnoStatus(errno, "bind rtnetlink socket");
  }
  return NetlinkSocket(std::move(sock));
}

absl::Status NetlinkSocket::send(NlMessage& msg, absl::string_view what) {
  msg.header()->nlmsg_seq = seq_++;
  if (mnl_socket_sendto(sock_.get(), msg.header(), msg.size()) < 0) {
    return errnoStatus(errno, absl::StrCat(what, ": send"));
  }
  return absl::OkStatus();
}

absl::Status NetlinkSocket::request(NlMessage& msg, absl::string_view what,
                                    const std::function<void(const nlmsghdr*)>& on_reply) {
  msg.header()->nlmsg_flags |= NLM_F_ACK;
  if (auto s = send(msg, what); !s.ok()) return s;
  const uint32_t seq = msg.header()->nlmsg_seq;
  const uint32_t portid = mnl_socket_get_portid(sock_.get());
  std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE);
  while (true) {
    const ssize_t n = mnl_socket_recvfrom(sock_.get(), buf.data(), buf.size());
    if (n < 0) return errnoStatus(errno, absl::StrCat(what, ": receive"));
    auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data());
    int len = static_cast<int>(n);
    for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != portid) continue;
      if (nlh->nlmsg_type != NLMSG_ERROR) {
        if (on_reply) on_reply(nlh);
        continue;
      }
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (err->error == 0) return absl::OkStatus();
      absl::Status s = errnoStatus(-err->error, what);
      const std::string ack = extAckText(nlh);
      if (ack.empty()) return s;
      return absl::Status(s.code(), absl::StrCat(s.message(), " (kernel: ", ack, ")"));
    }
  }
}

absl::Status NetlinkSocket::dump(NlMessage& msg,
                                 const std::function<void(const nlmsghdr*)>& on_message,
                                 absl::string_view what) {
  constexpr int kAttempts = 5;
  std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE * 4);
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    msg.header()->nlmsg_flags |= NLM_F_DUMP;
    if (auto s = send(msg, what); !s.ok()) return s;
    const uint32_t seq = msg.header()->nlmsg_seq;
    std::vector<std::vector<uint8_t>> messages;
    bool interrupted = false;
    bool done = false;
    while (!done) {
      const ssize_t n = mnl_socket_recvfrom(sock_.get(), buf.data(), buf.size());
      if (n < 0) return errnoStatus(errno, absl::StrCat(what, ": receive"));
      auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data());
      int len = static_cast<int>(n);
      for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
        if (nlh->nlmsg_seq != seq) continue;
        if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
        if (nlh->nlmsg_type == NLMSG_DONE) {
          done = true;
          break;
        }
        if (nlh->nlmsg_type == NLMSG_ERROR) {
          const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
          if (err->error != 0) return errnoStatus(-err->error, what);
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
