#pragma once
// Work inside another network namespace. setns happens only on a fresh OS thread made for that
// work and discarded after it, so no other thread (a gRPC worker, the caller) ever changes
// namespace.

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "routing/fd.h"

namespace quasar::routing {

// Opens a namespace file such as /run/netns/NAME or /proc/PID/ns/net. NotFound when it is gone.
absl::StatusOr<Fd> openNetns(const std::string& path);

// Runs `fn` on a new thread that has joined `netns` and returns its result. Blocks until done.
// InvalidArgument when the file is not a network namespace.
absl::Status runInNetns(const Fd& netns, absl::FunctionRef<absl::Status()> fn);

}  // namespace quasar::routing
