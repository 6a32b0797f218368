#pragma once
// EC2 Query API responses (XML, namespace http://ec2.amazonaws.com/doc/2016-11-15/) parsed into
// cloud_provider.h's values, and EC2's error document mapped to absl status codes. Pure
// functions over text: no I/O; thread-safe. Unknown elements are ignored (EC2 adds fields over
// time); a missing element the caller needs, a malformed address or text that is not XML is
// Internal, naming the action. Element names are matched without namespace prefixes, as EC2
// writes them.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "conf/ip.h"
#include "ipam/cloud/cloud_provider.h"

namespace quasar::ipam::cloud {

inline constexpr char kEc2ApiVersion[] = "2016-11-15";

// <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>
struct Ec2Error {
  std::string code;  // RequestLimitExceeded, InvalidNetworkInterfaceID.NotFound, ...
  std::string message;
  std::string request_id;
};

// The document's first error. InvalidArgument when `xml` is not EC2's error document.
absl::StatusOr<Ec2Error> parseEc2Error(absl::string_view xml);

// How an EC2 error code reads to callers (cloud_provider.h):
//   Unavailable        RequestLimitExceeded, Throttling, ServiceUnavailable, InternalError, and
//                      any code answered with a 5xx;
//   ResourceExhausted  AttachmentLimitExceeded, PrivateIpAddressLimitExceeded,
//                      InsufficientFreeAddressesInSubnet, NetworkInterfaceLimitExceeded;
//   NotFound           *.NotFound;
//   PermissionDenied   AuthFailure, UnauthorizedOperation, SignatureDoesNotMatch,
//                      RequestExpired, InvalidClientTokenId, ...;
//   FailedPrecondition IncorrectState, IncorrectInstanceState, InvalidNetworkInterface.InUse,
//                      DependencyViolation;
//   InvalidArgument    InvalidParameter*, MissingParameter, *.Malformed, other Invalid*,
//                      IdempotentParameterMismatch;
//   Unknown            anything else.
absl::StatusCode ec2ErrorCode(absl::string_view code, int http_status);

// The status of a non-2xx answer to `action`: from its error document, whose code and message
// the status message keeps, or from the HTTP status when the body is something else (a proxy's
// page): 5xx and 429 Unavailable, 401/403 PermissionDenied, others Unknown.
absl::Status ec2ErrorStatus(absl::string_view action, int http_status, absl::string_view body);

// DescribeInstances (InstanceId.1=id): the instance, its type, zone, and its primary
// interface's subnet and security groups. Limits are left zero (DescribeInstanceTypes has them).
// NotFound when the response does not list `instance_id`.
absl::StatusOr<Instance> parseDescribeInstances(absl::string_view xml,
                                                const std::string& instance_id);

// DescribeInstanceTypes: networkInfo's maximumNetworkInterfaces and ipv4AddressesPerInterface
// of `instance_type`. NotFound when it is not listed.
absl::StatusOr<InstanceLimits> parseDescribeInstanceTypes(absl::string_view xml,
                                                          const std::string& instance_type);

// DescribeSubnets: NotFound when `subnet_id` is not listed.
absl::StatusOr<Subnet> parseDescribeSubnets(absl::string_view xml, const std::string& subnet_id);

struct InterfacePage {
  std::vector<NetworkInterface> interfaces;
  std::string next_token;  // empty on the last page
};
absl::StatusOr<InterfacePage> parseDescribeNetworkInterfaces(absl::string_view xml);

absl::StatusOr<NetworkInterface> parseCreateNetworkInterface(absl::string_view xml);

// The attachment id.
absl::StatusOr<std::string> parseAttachNetworkInterface(absl::string_view xml);

// The addresses EC2 picked (assignedPrivateIpAddressesSet), in its order.
absl::StatusOr<std::vector<conf::IpAddress>> parseAssignPrivateIpAddresses(absl::string_view xml);

// Actions that answer <return>true</return> (Detach, Delete, Unassign, CreateTags): OK, or
// Internal when the document says false or is not `action`'s response.
absl::Status parseReturn(absl::string_view action, absl::string_view xml);

}  // namespace quasar::ipam::cloud
