#include "routing/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "routing/netlink_socket.h"

namespace quasar::routing {

absl::StatusOr<Fd> openNetns(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errnoStatus(errno, absl::StrCat("open netns ", path));
  return fd;
}

absl::Status runInNetns(const Fd& netns, absl::FunctionRef<absl::Status()> fn) {
  absl::Status result;
  std::thread worker([&] {
    if (::setns(netns.get(), CLONE_NEWNET) != 0) {
      const int err = errno;
      result = err == EINVAL ? absl::InvalidArgumentError("setns: not a network namespace")
                             : errnoStatus(err, "setns");
      return;
    }
    result = fn();
  });
  worker.join();
  return result;
}

}  // namespace quasar::routing
