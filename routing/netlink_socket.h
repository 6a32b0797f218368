#pragma once
// An rtnetlink socket in the network namespace of the thread that opened it (it stays there
// whatever thread uses it later). Opened CLOEXEC with extended acks on, so error messages carry
// the kernel's own reason. Not thread-safe: one user at a time.

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "routing/nl_message.h"

namespace quasar::routing {

// Maps an errno to a Status whose code callers can act on (EEXIST -> AlreadyExists,
// ENODEV/ENOENT/ESRCH -> NotFound, EBUSY/EAGAIN -> Unavailable, ...).
absl::Status errnoStatus(int err, absl::string_view what);

class NetlinkSocket {
 public:
  static absl::StatusOr<NetlinkSocket> open();

  // Sends `msg` with NLM_F_ACK and waits for the ack; replies before the ack (a GET's answer) go
  // to `on_reply`. `what` names the operation in errors.
  absl::Status request(NlMessage& msg, absl::string_view what,
                       const std::function<void(const nlmsghdr*)>& on_reply = nullptr);
  // Sends a dump request and calls `on_message` for each reply message. A dump the kernel marks
  // inconsistent (NLM_F_DUMP_INTR, a change raced it) is restarted, up to a few times.
  absl::Status dump(NlMessage& msg, const std::function<void(const nlmsghdr*)>& on_message,
                    absl::string_view what);

 private:
  using Sock = std::unique_ptr<mnl_socket, decltype(&mnl_socket_close)>;
  explicit NetlinkSocket(Sock sock) : sock_(std::move(sock)) {}
  absl::Status send(NlMessage& msg, absl::string_view what);

  Sock sock_;
  // Starts at 1: kernel notifications carry 0.
  uint32_t seq_ = 1;
};

}  // namespace quasar::routing
