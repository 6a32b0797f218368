#pragma once
// Kubernetes API errors as absl::Status, with the retry meaning of absl's codes:
//   401 -> Unauthenticated, 403 -> PermissionDenied, 404 -> NotFound,
//   409 AlreadyExists -> AlreadyExists, other 409 (Conflict: stale resourceVersion) -> Aborted,
//   410 Gone/Expired -> OutOfRange (only this: the resourceVersion is compacted, relist),
//   400/422 -> InvalidArgument, 429, 5xx (504 Timeout too) and transport errors -> Unavailable
//   (retry), anything else -> Unknown.
// Messages carry the request, the HTTP code and the server's Status message.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace quasar::kube {

// `what` names the request ("GET /api/v1/pods"); `body` is the response body (a Status object
// when the server sent one; anything else is quoted, shortened).
absl::Status statusFromHttp(long code, absl::string_view body, const std::string& what);

// The Status object of a watch ERROR event (`{"kind":"Status","code":410,...}` as JSON text
// already parsed into its fields), mapped like an HTTP answer with that code.
absl::Status statusFromApi(long code, const std::string& reason, const std::string& message,
                           const std::string& what);

// True for the error meaning "your resourceVersion is too old": list again, then watch.
inline bool isExpired(const absl::Status& s) { return s.code() == absl::StatusCode::kOutOfRange; }
// True when retrying the same call later can succeed (429, 5xx, transport, timeouts).
inline bool isRetryable(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable ||
         s.code() == absl::StatusCode::kDeadlineExceeded;
}

}  // namespace quasar::kube
