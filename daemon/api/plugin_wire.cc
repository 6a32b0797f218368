#include "daemon/api/plugin_wire.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace quasar::api {
namespace {

constexpr size_t kReadChunk = 64 << 10;

absl::Status ioError(int err, const char* what) {
  if (err == EAGAIN || err == EWOULDBLOCK) {
    return absl::DeadlineExceededError(absl::StrCat(what, ": timed out"));
  }
  return absl::UnavailableError(absl::StrCat(what, ": ", strerror(err)));
}

// Reads exactly n bytes. Returns the number read before EOF (n on success).
absl::StatusOr<size_t> readFull(int fd, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, buf + got, n - got);
    if (r == 0) return got;
    if (r < 0) {
      if (errno == EINTR) continue;
      return ioError(errno, "read");
    }
    got += static_cast<size_t>(r);
  }
  return got;
}

}  // namespace

absl::Status writeFrame(int fd, const google::protobuf::MessageLite& message) {
  std::string buf(4, '\0');
  if (!message.AppendToString(&buf)) return absl::InternalError("serialize message");
  const uint32_t len = static_cast<uint32_t>(buf.size() - 4);
  if (len > kMaxPluginMessage) return absl::InvalidArgumentError("message too large");
  buf[0] = static_cast<char>(len >> 24);
  buf[1] = static_cast<char>(len >> 16);
  buf[2] = static_cast<char>(len >> 8);
  buf[3] = static_cast<char>(len);
  size_t sent = 0;
  while (sent < buf.size()) {
    const ssize_t w = ::send(fd, buf.data() + sent, buf.size() - sent, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ioError(errno, "write");
    }
    sent += static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

absl::Status readFrame(int fd, google::protobuf::MessageLite& message) {
  unsigned char header[4];
  auto got = readFull(fd, reinterpret_cast<char*>(header), 4);
  if (!got.ok()) return got.status();
  if (*got == 0) return absl::NotFoundError("connection closed");
  if (*got != 4) return absl::DataLossError("connection closed inside a frame header");
  const uint32_t len = (uint32_t{header[0]} << 24) | (uint32_t{header[1]} << 16) |
                       (uint32_t{header[2]} << 8) | uint32_t{header[3]};
  if (len > kMaxPluginMessage) return absl::DataLossError(absl::StrCat("frame of ", len, " bytes"));
  // The body grows as it arrives: a header alone must not make the reader allocate what it
  // claims (up to kMaxPluginMessage per connection).
  std::string body;
  while (body.size() < len) {
    const size_t start = body.size();
    const size_t chunk = std::min<size_t>(len - start, kReadChunk);
    body.resize(start + chunk);
    got = readFull(fd, body.data() + start, chunk);
    if (!got.ok()) return got.status();
    if (*got != chunk) return absl::DataLossError("connection closed inside a frame");
  }
  if (!message.ParseFromString(body)) return absl::DataLossError("undecodable message");
  return absl::OkStatus();
}

}  // namespace quasar::api
