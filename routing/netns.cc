#include "routing/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>

#include <cstdlib>
#include <thread>

#include "absl/strings/str_cat.h"
#include "routing/netlink_socket.h"

namespace quasar::routing {

absl::StatusOr<Fd> openNetns(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errnoStatus(errno, absl::StrCat("open netns ", path));
  return fd;
}

NetnsThread::NetnsThread(const Fd& netns, std::function<absl::Status()> fn)
    : thread_([this, fd = netns.get(), fn = std::move(fn)] {
        if (::setns(fd, CLONE_NEWNET) != 0) {
          const int err = errno;
          result_ = err == EINVAL ? absl::InvalidArgumentError("setns: not a network namespace")
                                  : errnoStatus(err, "setns");
          return;
        }
        result_ = fn();
      }) {}

NetnsThread::~NetnsThread() {
  if (thread_.joinable()) thread_.join();
}

absl::Status NetnsThread::wait() {
  if (thread_.joinable()) thread_.join();
  return result_;
}

absl::StatusOr<NetlinkSocket> openNetlinkSocketIn(const Fd& netns, const Fd& home) {
  if (::setns(netns.get(), CLONE_NEWNET) != 0) {
    const int err = errno;
    return err == EINVAL ? absl::InvalidArgumentError("setns: not a network namespace")
                         : errnoStatus(err, "setns");
  }
  auto sock = NetlinkSocket::open();
  if (::setns(home.get(), CLONE_NEWNET) != 0) std::abort();
  return sock;
}

absl::Status runInNetns(const Fd& netns, absl::FunctionRef<absl::Status()> fn) {
  return NetnsThread(netns, [&] { return fn(); }).wait();
}

}  // namespace quasar::routing
