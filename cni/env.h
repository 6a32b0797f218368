#pragma once
// The CNI_* environment of one plugin invocation, read and validated for its command.

#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace quasar::cni {

struct CniEnv {
  std::string command;  // ADD, DEL, CHECK, GC, STATUS, VERSION
  std::string container_id;
  std::string netns;
  std::string ifname;
  std::string path;
  // CNI_ARGS that quasar understands.
  std::string pod_namespace;
  std::string pod_name;
  std::string pod_uid;
};

// `getenv` is injected for tests. Errors carry code 4 (invalid environment) and name the
// variable; an unknown command or a value that is not UTF-8 is code 4 too. Unknown CNI_ARGS keys
// are refused unless IgnoreUnknown is set, as the spec's conventions ask.
absl::StatusOr<CniEnv> readEnv(const std::function<const char*(const char*)>& getenv);

}  // namespace quasar::cni
