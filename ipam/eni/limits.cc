#include "ipam/eni/limits.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace quasar::ipam::eni {

absl::StatusOr<MaxPodsFormula> parseFormula(absl::string_view text) {
  if (text == "aws") return MaxPodsFormula::kPrimaryServesPods;
  if (text == "primary-reserved") return MaxPodsFormula::kPrimaryReserved;
  return absl::InvalidArgumentError(absl::StrCat("maxPodsFormula \"", std::string(text),
                                                 "\": want \"aws\" or \"primary-reserved\""));
}

const char* formulaName(MaxPodsFormula formula) {
  return formula == MaxPodsFormula::kPrimaryServesPods ? "aws" : "primary-reserved";
}

absl::StatusOr<PodLimits> podLimits(const cloud::InstanceLimits& limits, MaxPodsFormula formula,
                                    int configured_max_pods) {
  const int enis = limits.max_interfaces;
  const int ips = limits.ipv4_per_interface;
  if (enis < 1 || ips < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("instance limits of ", enis, " ENIs x ", ips,
                     " IPs per ENI leave no secondary address to a pod"));
  }
  if (configured_max_pods < 0) {
    return absl::InvalidArgumentError(absl::StrCat("maxPods ", configured_max_pods, " < 0"));
  }
  PodLimits out;
  out.formula = formula;
  out.addresses_per_interface = ips - 1;
  if (formula == MaxPodsFormula::kPrimaryServesPods) {
    out.pod_interfaces = enis;
    out.formula_max_pods = enis * (ips - 1) + 2;
    out.explanation =
        absl::StrCat(enis, " ENIs x (", ips, " IPs - 1) + 2 = ", out.formula_max_pods);
  } else {
    out.pod_interfaces = enis - 1;
    out.formula_max_pods = (enis - 1) * ips;
    out.explanation =
        absl::StrCat("(", enis, " ENIs - 1) x ", ips, " IPs = ", out.formula_max_pods);
  }
  out.address_capacity = out.pod_interfaces * out.addresses_per_interface;
  out.max_pods = out.formula_max_pods;
  if (configured_max_pods > 0 && configured_max_pods < out.formula_max_pods) {
    out.max_pods = configured_max_pods;
    out.address_capacity = std::min(out.address_capacity, configured_max_pods);
    absl::StrAppend(&out.explanation, ", capped at the configured maxPods ", configured_max_pods);
  }
  return out;
}

}  // namespace quasar::ipam::eni
