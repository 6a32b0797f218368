#pragma once
// The one place where a failure becomes a CNI error code. Codes 1-99 are the spec's; quasar's own
// start at 100 and are documented in docs/cni-errors.md.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace quasar::cni {

enum CniCode : int {
  kIncompatibleVersion = 1,
  kUnsupportedField = 2,
  kUnknownContainer = 3,
  kInvalidEnvironment = 4,
  kIoFailure = 5,
  kDecodeFailure = 6,
  kInvalidConfig = 7,
  kTryAgainLater = 11,
  kNotAvailable = 50,
  // quasar's own.
  kInternal = 100,
  kAddressesExhausted = 101,
  kAttachmentExists = 102,
  kCheckFailed = 103,
  kAddressUnavailable = 104,
  // Floating IPs (quasar.io/v1 FloatingIPPool).
  kNoPoolForNode = 105,
  kPoolsFull = 106,
  kFloatingAddressTaken = 107,
  kOutsidePools = 108,
  // ENI multi-IP: the node's interfaces hold as many pod addresses as its instance type allows.
  kNodeAddressLimit = 109,
};

// The code for quasard's PluginReply.reason (a FailureReason); 0 when it names none.
int codeForReason(int reason);

// Pins `code` on a status, overriding the mapping by status code.
absl::Status withCode(absl::Status s, CniCode code);
int codeFor(const absl::Status& s);

// The spec's error object. `details` carries the full status text when `msg` is shortened. Bytes
// of the message that are not UTF-8 become U+FFFD, so the object always renders.
nlohmann::json errorJson(const std::string& cni_version, const absl::Status& s);

}  // namespace quasar::cni
