#pragma once
// Work inside another network namespace. setns happens only on a fresh OS thread made for that
// work and discarded after it, so no other thread (a gRPC worker, the caller) ever changes
// namespace.

#include <functional>
#include <string>
#include <thread>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "routing/fd.h"

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

// Runs `fn` inside `netns` on a new thread and returns its result. Blocks until done.
absl::Status runInNetns(const Fd& netns, absl::FunctionRef<absl::Status()> fn);

}  // namespace quasar::routing
