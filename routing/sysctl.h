#pragma once
// sysctls of the calling thread's network namespace (/proc/sys/net is per namespace).

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quasar::routing {

// `key` in dotted or slashed form, e.g. "net/ipv4/ip_forward".
absl::Status writeSysctl(const std::string& key, absl::string_view value);
absl::StatusOr<std::string> readSysctl(const std::string& key);

}  // namespace quasar::routing
