#pragma once
// The watch stream's wire format: newline-delimited JSON events
// `{"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR", "object": {...}}` in HTTP chunks that
// split lines anywhere. Pure code, no I/O.

#include <cstddef>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace quasar::kube {

enum class EventType { kAdded, kModified, kDeleted, kBookmark, kError };
const char* eventTypeName(EventType t);  // "ADDED", ...

struct WatchEvent {
  EventType type = EventType::kAdded;
  // The object; for kBookmark an empty object of the kind carrying metadata.resourceVersion;
  // for kError a Status (kind Status, code, reason, message).
  nlohmann::json object;
};

// Reassembles lines from chunks. Not thread-safe (one per stream).
class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line = size_t{64} << 20) : max_line_(max_line) {}

  using LineFn = std::function<absl::Status(absl::string_view line)>;
  // Calls on_line for every line completed by `chunk`, without its "\n" (and "\r"); blank lines
  // are skipped. Returns on_line's first error (the rest of the chunk is dropped), or
  // ResourceExhausted when a line grows beyond max_line.
  absl::Status feed(absl::string_view chunk, const LineFn& on_line);
  // Bytes of an incomplete last line held back.
  size_t pending() const { return partial_.size(); }

 private:
  size_t max_line_;
  std::string partial_;
};

// Parses one event line (depth-bounded). InvalidArgument when it is not an event with a known
// type and an object.
absl::StatusOr<WatchEvent> parseWatchEvent(absl::string_view line);

// The error an ERROR event stands for: its Status's code mapped as in api_status.h (410 ->
// OutOfRange: relist). `what` names the watch.
absl::Status watchErrorStatus(const nlohmann::json& status, const std::string& what);

// metadata.resourceVersion, "" when absent.
std::string resourceVersionOf(const nlohmann::json& object);
// "namespace/name", or "name" for a cluster-scoped object.
std::string objectKey(const nlohmann::json& object);

}  // namespace quasar::kube
