#pragma once
// Work inside another network namespace. Work that needs the namespace for longer than one
// socket(2) call runs on a fresh OS thread made for it and discarded after it, so no other thread
// (a gRPC worker, the caller) stays in a foreign namespace.

#include <functional>
#include <string>
#include <thread>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "routing/fd.h"
#include "routing/netlink_socket.h"

namespace quasar::routing {

// Opens a namespace file such as /run/netns/NAME or /proc/PID/ns/net. NotFound when it is gone.
absl::StatusOr<Fd> openNetns(const std::string& path);

// Runs `fn` on a new thread that has joined `netns`, while the caller goes on; wait() (or the
// destructor) joins it. InvalidArgument when the file is not a network namespace.
class NetnsThread {
 public:
  NetnsThread(const Fd& netns, std::function<absl::Status()> fn);
  ~NetnsThread();
  NetnsThread(const NetnsThread&) = delete;
  NetnsThread& operator=(const NetnsThread&) = delete;
  absl::Status wait();

 private:
  absl::Status result_;
  std::thread thread_;
};

// An rtnetlink socket in `netns`: a socket stays in the namespace it was opened in, so only the
// socket(2) call needs to be inside it. The calling thread enters `netns` for that call and
// returns to `home`, which must be the namespace it is in (NetlinkSocket::openNamespace of a
// socket it opened); if it cannot return, the process aborts rather than go on in the wrong
// namespace. No thread is made (the plugin's ADD saves ~0.1 ms by that).
// InvalidArgument when the file is not a network namespace.
absl::StatusOr<NetlinkSocket> openNetlinkSocketIn(const Fd& netns, const Fd& home);

// Runs `fn` inside `netns` on a new thread and returns its result. Blocks until done.
absl::Status runInNetns(const Fd& netns, absl::FunctionRef<absl::Status()> fn);

}  // namespace quasar::routing
