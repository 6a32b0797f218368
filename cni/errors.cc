#include "cni/errors.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "conf/json_parse.h"

namespace quasar::cni {
namespace {
constexpr char kCodePayload[] = "quasar.dev/cni-code";
}

absl::Status withCode(absl::Status s, CniCode code) {
  s.SetPayload(kCodePayload, absl::Cord(absl::StrCat(static_cast<int>(code))));
  return s;
}

int codeForReason(int reason) {
  switch (reason) {
    case 1:
      return kNoPoolForNode;
    case 2:
      return kPoolsFull;
    case 3:
      return kFloatingAddressTaken;
    case 4:
      return kOutsidePools;
    case 5:
      return kNodeAddressLimit;
    default:
      return 0;
  }
}

int codeFor(const absl::Status& s) {
  if (auto p = s.GetPayload(kCodePayload)) {
    int code = 0;
    if (absl::SimpleAtoi(std::string(*p), &code)) return code;
  }
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
      return kTryAgainLater;
    case absl::StatusCode::kResourceExhausted:
      return kAddressesExhausted;
    case absl::StatusCode::kAlreadyExists:
      return kAttachmentExists;
    case absl::StatusCode::kFailedPrecondition:
      return kCheckFailed;
    case absl::StatusCode::kInvalidArgument:
      return kInvalidConfig;
    case absl::StatusCode::kNotFound:
      return kUnknownContainer;
    default:
      return kInternal;
  }
}

nlohmann::json errorJson(const std::string& cni_version, const absl::Status& s) {
  // A message may quote input that is not UTF-8; the error must render all the same.
  std::string msg = conf::toValidUtf8(s.message());
  std::string details;
  // The first clause is the readable message; what follows a " (" is detail.
  if (auto pos = msg.find(" (kernel: "); pos != std::string::npos) {
    details = msg;
    msg = msg.substr(0, pos);
  }
  nlohmann::json j{{"cniVersion", cni_version}, {"code", codeFor(s)}, {"msg", msg}};
  if (!details.empty()) j["details"] = details;
  return j;
}

}  // namespace quasar::cni
