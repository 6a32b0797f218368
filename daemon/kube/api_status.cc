#include "daemon/kube/api_status.h"

#include "absl/strings/str_cat.h"
#include "conf/json_parse.h"

namespace quasar::kube {

absl::Status statusFromApi(long code, const std::string& reason, const std::string& message,
                           const std::string& what) {
  const std::string text = absl::StrCat(what, ": HTTP ", code, reason.empty() ? "" : " ", reason,
                                        message.empty() ? "" : ": ", message);
  switch (code) {
    case 400:
    case 422:
      return absl::InvalidArgumentError(text);
    case 401:
      return absl::UnauthenticatedError(text);
    case 403:
      return absl::PermissionDeniedError(text);
    case 404:
      return absl::NotFoundError(text);
    case 409:
      return reason == "AlreadyExists" ? absl::AlreadyExistsError(text) : absl::AbortedError(text);
    case 410:
      return absl::OutOfRangeError(text);
    case 429:
      return absl::UnavailableError(text);
    default:
      if (code >= 500 && code <= 599) return absl::UnavailableError(text);
      return absl::UnknownError(text);
  }
}

absl::Status statusFromHttp(long code, absl::string_view body, const std::string& what) {
  std::string reason;
  std::string message;
  auto parsed = conf::parseJson(body);
  if (parsed.ok() && parsed->is_object() && parsed->value("kind", "") == "Status") {
    if (auto it = parsed->find("reason"); it != parsed->end() && it->is_string()) reason = *it;
    if (auto it = parsed->find("message"); it != parsed->end() && it->is_string()) message = *it;
  } else if (!body.empty()) {
    constexpr size_t kMax = 200;
    message = conf::toValidUtf8(body.substr(0, kMax));
    if (body.size() > kMax) message += "...";
  }
  return statusFromApi(code, reason, message, what);
}

}  // namespace quasar::kube
