#include "routing/sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "routing/fd.h"
#include "routing/netlink_socket.h"

namespace quasar::routing {
namespace {
std::string pathOf(const std::string& key) { return "/proc/sys/" + key; }
}  // namespace

absl::Status writeSysctl(const std::string& key, absl::string_view value) {
  Fd fd(::open(pathOf(key).c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return errnoStatus(errno, absl::StrCat("open sysctl ", key));
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    return errnoStatus(errno, absl::StrCat("write sysctl ", key, "=", value));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> readSysctl(const std::string& key) {
  Fd fd(::open(pathOf(key).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errnoStatus(errno, absl::StrCat("open sysctl ", key));
  char buf[256];
  const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
  if (n < 0) return errnoStatus(errno, absl::StrCat("read sysctl ", key));
  return std::string(absl::StripAsciiWhitespace(absl::string_view(buf, n)));
}

}  // namespace quasar::routing
