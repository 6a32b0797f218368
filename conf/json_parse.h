#pragma once
// Parsing JSON text from outside the process (the plugin's stdin, quasard's API and datastore)
// with a bound on its nesting depth. nlohmann/json parses iteratively, but copying, comparing,
// dumping and our own walks recurse once per level: a document nested tens of thousands deep
// would overflow the stack long after it was accepted.

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace quasar::conf {

// Far deeper than any CNI config, result or Kubernetes object (a NetworkPolicy's deepest field
// is ~10 levels down), far shallower than what overflows a thread's stack.
inline constexpr int kMaxJsonDepth = 128;

// Parses `text`. InvalidArgument, naming what is wrong and where, when it is not JSON or nests
// deeper than `max_depth` lists and objects. Never throws.
absl::StatusOr<nlohmann::json> parseJson(absl::string_view text, int max_depth = kMaxJsonDepth);

// True when `s` is well-formed UTF-8 (RFC 3629), as JSON strings and protobuf strings must be.
bool isValidUtf8(absl::string_view s);
// `s` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD: for text that
// must be rendered whatever it holds (error messages).
std::string toValidUtf8(absl::string_view s);

}  // namespace quasar::conf
