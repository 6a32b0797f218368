#pragma once
// The one check of an attachment's names as they arrive on quasard's API, before they reach a
// log line, a file name or an interface name (the node-side veth name is derived from them).
// The CNI spec's rules: a container ID is alphanumerics plus '_', '.' and '-', starting with an
// alphanumeric (bounded here to kMaxContainerIdLength bytes); an interface name is 1..15 bytes
// (IFNAMSIZ - 1), not "." or "..", with no '/', ':' or whitespace.

#include <cstddef>

#include "absl/status/status.h"
#include "ipam/allocation.h"

namespace quasar::ipam {

inline constexpr size_t kMaxContainerIdLength = 256;
inline constexpr size_t kMaxIfnameLength = 15;

// InvalidArgument naming the rule that failed (the offending value is not echoed: it may be
// anything). Pure; thread-safe.
absl::Status validateAttachment(const Attachment& attachment);

}  // namespace quasar::ipam
