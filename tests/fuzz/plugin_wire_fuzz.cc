// The plugin socket's framing (api::readFrame): the bytes a peer sends, read as a sequence of
// frames into requests (quasard's side) and into replies (the plugin's side).

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "daemon/api/quasard.pb.h"
#include "daemon/api/plugin_wire.h"

namespace {

// readFrame reads a descriptor: a memfd holds the input (a regular file reads like a peer that
// sent everything and closed).
int inputFd(const uint8_t* data, size_t size) {
  static const int fd = ::memfd_create("plugin-wire-fuzz", MFD_CLOEXEC);
  if (fd < 0 || ::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size) || ::lseek(fd, 0, SEEK_SET) != 0) {
    std::abort();
  }
  return fd;
}

template <typename Message>
void readAll(const uint8_t* data, size_t size) {
  const int fd = inputFd(data, size);
  for (int i = 0; i < 64; ++i) {
    Message m;
    if (!quasar::api::readFrame(fd, m).ok()) return;
    (void)m.SerializeAsString();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  readAll<quasar::api::v1::PluginRequest>(data, size);
  readAll<quasar::api::v1::PluginReply>(data, size);
  return 0;
}
