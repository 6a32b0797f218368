#pragma once
// How many pods an instance type's ENIs allow, and how many pod addresses the ENI source can hand
// out (docs/eni.md). Two forms, chosen in the config:
//
//   kPrimaryServesPods (AWS VPC CNI, eni-max-pods.txt): every ENI, the primary included, holds
//     pod addresses as secondary IPs:
//       max pods = ENIs x (IPs per ENI - 1) + 2
//     Each ENI's primary address is the interface's own, so ENIs x (IPs - 1) secondary addresses
//     are the pods' (the address capacity); the + 2 are host-network pods (kube-proxy, the CNI's
//     own daemon), which take no address but count against the kubelet's max pods.
//     m5.large: 3 x (10 - 1) + 2 = 29 pods, 27 addresses.
//
//   kPrimaryReserved (Alibaba Terway, Tencent VPC-CNI): the primary ENI keeps to the host:
//       max pods = (ENIs - 1) x IPs per ENI
//     Those clouds hand a secondary ENI's primary address to a pod as well; quasar keeps each
//     ENI's primary address for the interface (the source address of its own traffic), so the
//     address capacity is (ENIs - 1) x (IPs - 1) secondary addresses and the remaining ENIs - 1
//     of max pods are room for host-network pods, as the + 2 is in AWS's form.
//
// A configured max pods (the kubelet's --max-pods, e.g. 110 on a GPU node whose type allows 737)
// caps both: the warm pool never holds more addresses than the node may run pods.
//
// Pure functions; thread-compatible values.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ipam/cloud/cloud_provider.h"

namespace quasar::ipam::eni {

enum class MaxPodsFormula {
  kPrimaryServesPods,  // "aws"
  kPrimaryReserved,    // "primary-reserved"
};

// "aws" or "primary-reserved"; InvalidArgument otherwise.
absl::StatusOr<MaxPodsFormula> parseFormula(absl::string_view text);
const char* formulaName(MaxPodsFormula formula);

struct PodLimits {
  MaxPodsFormula formula = MaxPodsFormula::kPrimaryServesPods;
  int max_pods = 0;          // from the formula, capped by the configured max pods
  int formula_max_pods = 0;  // from the formula alone
  // Secondary addresses the source may hold on the node (handed out, warm, cooling): the pods'.
  int address_capacity = 0;
  int pod_interfaces = 0;           // ENIs that may hold pod addresses
  int addresses_per_interface = 0;  // secondary addresses per ENI: IPs per ENI - 1
  // How max pods came about, for messages and `quasarctl status`:
  // "3 ENIs x (10 IPs - 1) + 2 = 29".
  std::string explanation;
};

// InvalidArgument when the limits cannot describe an instance (no interface, fewer than two
// addresses per interface) or `configured_max_pods` is negative. 0 means not configured.
absl::StatusOr<PodLimits> podLimits(const cloud::InstanceLimits& limits, MaxPodsFormula formula,
                                    int configured_max_pods = 0);

}  // namespace quasar::ipam::eni
