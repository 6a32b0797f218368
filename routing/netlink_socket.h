#pragma once
// An rtnetlink socket in the network namespace of the thread that opened it (it stays there
// whatever thread uses it later). Opened CLOEXEC with extended acks on, so error messages carry
// the kernel's own reason. Not thread-safe: one user at a time.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "routing/fd.h"
#include "routing/nl_message.h"

namespace quasar::routing {

// Maps an errno to a Status whose code callers can act on (EEXIST -> AlreadyExists,
// ENODEV/ENOENT/ESRCH -> NotFound, EBUSY/EAGAIN -> Unavailable, EOPNOTSUPP -> Unimplemented,
// ...).
absl::Status errnoStatus(int err, absl::string_view what);

class NetlinkSocket {
 public:
  static absl::StatusOr<NetlinkSocket> open();

  // Sends `msg` with NLM_F_ACK and waits for the ack; replies before the ack (a GET's answer) go
  // to `on_reply`. `what` names the operation in errors.
  absl::Status request(NlMessage& msg, absl::string_view what,
                       const std::function<void(const nlmsghdr*)>& on_reply = nullptr);
  // One request of a batch: the message and what it does, for errors.
  struct Request {
    NlMessage msg;
    std::string what;
  };
  // Sends all requests in one write (the kernel runs them in order, each to completion) and
  // waits for every ack: one system call and one wake-up instead of one per request. The first
  // failed request, in order, is the error; the kernel still runs the ones after it. With
  // `each`, it also receives every request's own result, in order.
  absl::Status requestAll(std::vector<Request>& requests,
                          std::vector<absl::Status>* each = nullptr);
  // Sends a dump request and calls `on_message` for each reply message. A dump the kernel marks
  // inconsistent (NLM_F_DUMP_INTR, a change raced it) is restarted, up to a few times.
  absl::Status dump(NlMessage& msg, const std::function<void(const nlmsghdr*)>& on_message,
                    absl::string_view what);

  // The index of link `name` in this socket's namespace, by ioctl (SIOCGIFINDEX): no netlink
  // message is built or parsed and the RTNL lock is not taken. NotFound when there is none.
  absl::StatusOr<int> linkIndex(const std::string& name) const;
  // This socket's network namespace, opened (SIOCGSKNS): no /proc path to walk.
  absl::StatusOr<Fd> openNamespace() const;

 private:
  // One page of messages per read, as the kernel sends them (a dump reads four). Only the
  // starting size: receive() grows the buffer to a larger datagram.
  static constexpr size_t kReceiveBuffer = 8192;
  NetlinkSocket(Fd fd, uint32_t portid) : fd_(std::move(fd)), portid_(portid) {}
  absl::Status send(NlMessage& msg, absl::string_view what);
  absl::Status sendBytes(const void* data, size_t len, absl::string_view what);
  // Reads one datagram whole into `buf`, growing it as needed; returns its length. DataLoss if
  // the datagram was cut all the same (never parsed), else the receive error.
  absl::StatusOr<size_t> receive(std::vector<uint8_t>& buf, absl::string_view what);

  Fd fd_;
  uint32_t portid_ = 0;
  // Starts at 1: kernel notifications carry 0.
  uint32_t seq_ = 1;
};

}  // namespace quasar::routing
