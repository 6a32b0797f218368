#pragma once
// What quasard needs from a cloud for ENI multi-IP IPAM (docs/eni.md): the instance and its
// limits, network interfaces (ENIs) created, attached, tagged, detached and deleted, and secondary
// private IPv4 addresses assigned to and unassigned from them. The production backend is
// Ec2Provider (ec2_provider.h: EC2's Query API, SigV4, IMDSv2); tests use FakeCloudProvider
// (fake_cloud_provider.h) or the emulated VPC (tests/vpc/, vpc-sim).
//
// Every call is bounded: a backend retries throttling (RequestLimitExceeded) and 5xx with
// backoff and jitter, and gives up at its deadline. Errors, so callers can decide:
//   Unavailable        throttled or the cloud is unreachable past the deadline (retry later);
//   ResourceExhausted  a limit: ENIs per instance, addresses per ENI, the subnet's addresses;
//   NotFound           the interface, attachment or address does not exist (any more);
//   InvalidArgument    the cloud refused the request's values (a bad subnet or group id);
//   PermissionDenied   credentials missing, expired or not allowed; a bad signature.
// Threading: implementations are thread-safe.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conf/ip.h"

namespace quasar::ipam::cloud {

// The tag quasar puts on every interface it creates; its value is the node's name.
inline constexpr char kNodeTag[] = "quasar.io/node";

struct InstanceLimits {
  int max_interfaces = 0;      // ENIs the instance type can have attached, the primary included
  int ipv4_per_interface = 0;  // private IPv4 addresses per ENI, its primary address included
};

struct Instance {
  std::string id;                 // i-0123456789abcdef0
  std::string type;               // p4d.24xlarge
  std::string availability_zone;  // us-east-1a
  std::string subnet_id;          // the primary interface's subnet
  std::vector<std::string> security_groups;  // the primary interface's groups
  InstanceLimits limits;
};

struct Subnet {
  std::string id;
  conf::IpPrefix cidr;  // the VPC router is the subnet's first address + 1 (EC2's convention)
  std::string availability_zone;
};

struct NetworkInterface {
  std::string id;       // eni-...
  std::string mac;      // lower case, aa:bb:cc:dd:ee:ff: how the node finds its link
  std::string subnet_id;
  std::string status;   // EC2's: available, attaching, in-use, detaching
  std::string interface_type;  // EC2's: interface, efa, trunk, ...
  std::string description;
  std::string attachment_id;   // empty when not attached
  std::string instance_id;     // empty when not attached
  int device_index = -1;       // -1 when not attached; 0 is the primary interface
  bool delete_on_termination = false;  // the attachment's: the interface goes with the instance
  conf::IpAddress primary_ip;
  std::vector<conf::IpAddress> secondary_ips;
  std::map<std::string, std::string> tags;
};

struct CreateInterfaceRequest {
  std::string subnet_id;
  std::vector<std::string> security_groups;
  std::string description;
  std::map<std::string, std::string> tags;  // applied at creation (TagSpecification)
  // EC2's ClientToken: a retry of the same request (also after a crash) returns the interface
  // the first one created instead of a second one.
  std::string client_token;
};

// Which interfaces to list; empty fields do not filter. Both set: both must match.
struct InterfaceFilter {
  std::string attached_to;  // instance id
  std::optional<std::pair<std::string, std::string>> tag;  // key, value
};

class CloudProvider {
 public:
  virtual ~CloudProvider() = default;

  // The instance quasard runs on (the metadata service names it) with its type's limits.
  virtual absl::StatusOr<Instance> describeInstance() = 0;
  virtual absl::StatusOr<Subnet> describeSubnet(const std::string& subnet_id) = 0;
  virtual absl::StatusOr<std::vector<NetworkInterface>> listInterfaces(
      const InterfaceFilter& filter) = 0;

  virtual absl::StatusOr<NetworkInterface> createInterface(
      const CreateInterfaceRequest& request) = 0;
  // The attachment id. ResourceExhausted: the instance has its maximum of interfaces.
  virtual absl::StatusOr<std::string> attachInterface(const std::string& interface_id,
                                                      const std::string& instance_id,
                                                      int device_index) = 0;
  virtual absl::Status detachInterface(const std::string& attachment_id, bool force) = 0;
  // The attached interface is deleted when the instance terminates (EC2 leaves an interface
  // attached by AttachNetworkInterface behind otherwise, holding its addresses). Idempotent.
  // NotFound: no such interface, or it is not attached by that attachment (any more).
  virtual absl::Status setDeleteOnTermination(const std::string& interface_id,
                                              const std::string& attachment_id) = 0;
  // FailedPrecondition while it is still attached (detaching takes a while on a real cloud).
  virtual absl::Status deleteInterface(const std::string& interface_id) = 0;
  virtual absl::Status tagInterface(const std::string& interface_id,
                                    const std::map<std::string, std::string>& tags) = 0;

  // Assigns `count` new secondary addresses the cloud picks; returns them. ResourceExhausted:
  // the interface or the subnet is full.
  virtual absl::StatusOr<std::vector<conf::IpAddress>> assignPrivateIps(
      const std::string& interface_id, int count) = 0;
  // Addresses the interface does not have are not an error (idempotent).
  virtual absl::Status unassignPrivateIps(const std::string& interface_id,
                                          const std::vector<conf::IpAddress>& ips) = 0;
};

}  // namespace quasar::ipam::cloud
