#pragma once
// The `eni` section of quasard's config: ENI multi-IP IPAM (docs/eni.md). Pods on a node it
// selects take secondary private IPs of the node's cloud network interfaces instead of pod-CIDR
// addresses. Parsed and validated here; daemon/ wires it to ipam/eni and ipam/cloud.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace YAML {
class Node;
}

namespace quasar::conf {

struct EniConfig {
  // ENI mode on the nodes whose labels (the config's `labels`, then the Node object's) match all
  // of these; empty: every node that runs with this config. Chosen when quasard starts.
  std::map<std::string, std::string> node_selector;
  // EC2's Query API endpoint; empty: https://ec2.<region>.amazonaws.com.
  std::string ec2_endpoint;
  // The instance metadata service (IMDSv2).
  std::string imds_endpoint = "http://169.254.169.254";
  std::string region;   // empty: the metadata service's
  std::string ca_file;  // empty: the system's CAs
  // Where quasar's own interfaces are created; empty: the primary interface's subnet and groups.
  std::string subnet;
  std::vector<std::string> security_groups;
  // The warm pool, with the AWS VPC CNI's meanings: free addresses kept (warmIPTarget), addresses
  // held in total at least (minimumIPTarget), whole free interfaces kept (warmENITarget; only
  // when neither IP target is set).
  int warm_ip_target = 0;
  int minimum_ip_target = 0;
  int warm_eni_target = 1;
  // "aws": the primary interface's secondary addresses serve pods too, max pods = ENIs x (IPs
  // per ENI - 1) + 2. "primary-reserved": only interfaces quasar attaches serve pods, max pods =
  // (ENIs - 1) x IPs per ENI (Terway's and Tencent's form). ipam/eni/limits.h has the details.
  std::string max_pods_formula = "aws";
  // The kubelet's --max-pods, when it is below the formula's (0: the formula alone): the pool
  // never holds more addresses than the node may run pods.
  int max_pods = 0;
  // A free address beyond the targets is given back to the cloud after this long.
  std::chrono::seconds surplus_cooldown{60};
  // How often the pool is refilled and the interfaces' routes and rules are reconciled.
  std::chrono::milliseconds refill_interval{std::chrono::seconds(5)};
  // Interfaces quasar did not create are used only when they carry this tag (key, value).
  std::optional<std::pair<std::string, std::string>> usable_tag;
  // Interfaces carrying any of these tag keys are never touched (RDMA/EFA interfaces of GPU
  // nodes); EFA interfaces are never touched whatever their tags.
  std::vector<std::string> untouchable_tag_keys = {"quasar.io/no-pods"};
};

// `node` is the `eni` mapping. Errors are InvalidArgument and name the field (eni.<field>).
absl::StatusOr<EniConfig> parseEniConfig(const YAML::Node& node);

// Whether `selector` selects a node with `labels`.
bool selectsNode(const std::map<std::string, std::string>& selector,
                 const std::map<std::string, std::string>& labels);

}  // namespace quasar::conf
