#pragma once
// Framing of the plugin's transport (see PluginRequest in quasard.proto): a 4-byte big-endian
// length, then the serialized message. Part of quasard's API, so both the daemon and the CNI
// plugin use this one implementation. Blocking I/O on a connected stream socket; the caller sets
// the socket's timeouts.

#include <google/protobuf/message_lite.h>

#include "absl/status/status.h"

namespace quasar::api {

// Messages larger than this are refused (a GC list of ~100k attachments fits).
inline constexpr uint32_t kMaxPluginMessage = 16u << 20;

absl::Status writeFrame(int fd, const google::protobuf::MessageLite& message);
// NotFound when the peer closed the connection before a new frame began (end of requests);
// DeadlineExceeded on a socket timeout; DataLoss on a short or malformed frame.
absl::Status readFrame(int fd, google::protobuf::MessageLite& message);

}  // namespace quasar::api
