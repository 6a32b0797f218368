#pragma once
// Why an address source refused a request, where the status code alone does not say: the plugin
// turns each into its own documented CNI error code (docs/cni-errors.md). Carried as a payload
// on the absl::Status, so statuses stay ordinary everywhere else.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"

namespace quasar::ipam {

enum class FailureReason {
  kNone = 0,
  kNoPoolForNode = 1,  // no floating-IP pool (of those asked for) serves this node
  kPoolsFull = 2,      // every pool asked for is full or at its maximum
  kAddressTaken = 3,   // the requested address is held by another pod or workload
  kOutsidePools = 4,   // the requested address is in no pool that serves this node
  // The node's ENIs hold as many pod addresses as its instance type allows, all in use
  // (ipam/eni/limits.h).
  kNodeAddressLimit = 5,
};

inline constexpr char kFailureReasonPayload[] = "quasar.dev/failure-reason";

inline absl::Status withReason(absl::Status s, FailureReason reason) {
  s.SetPayload(kFailureReasonPayload, absl::Cord(std::to_string(static_cast<int>(reason))));
  return s;
}

inline FailureReason reasonOf(const absl::Status& s) {
  auto p = s.GetPayload(kFailureReasonPayload);
  if (!p) return FailureReason::kNone;
  const std::string text(*p);
  if (text.size() != 1 || text[0] < '1' || text[0] > '5') return FailureReason::kNone;
  return static_cast<FailureReason>(text[0] - '0');
}

}  // namespace quasar::ipam
