#pragma once
// CloudProvider over Amazon EC2's Query API (docs/eni-cloud.md): the instance from the
// metadata service (IMDSv2) and DescribeInstances + DescribeInstanceTypes; interfaces with
// Create/Attach/Detach/DeleteNetworkInterface, DescribeNetworkInterfaces and CreateTags;
// secondary addresses with Assign/UnassignPrivateIpAddresses. Every call is signed (SigV4),
// retried on throttling and 5xx with backoff and jitter (query_client.h), and bounded by
// Ec2Options::deadline for the whole operation (pages and the metadata lookups included).
//
// Idempotency: createInterface sends the request's client_token (or one it makes up) as EC2's
// ClientToken on every retry; attachInterface and assignPrivateIps are not retried after a
// timeout (EC2 may have acted), their callers reconcile from listInterfaces.
//
// Threading: thread-safe (cloud_provider.h); calls block their thread, sleeping between retries.

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "ipam/cloud/cloud_provider.h"
#include "ipam/cloud/credentials.h"
#include "ipam/cloud/imds.h"
#include "ipam/cloud/query_client.h"

namespace quasar::ipam::cloud {

struct Ec2Options {
  // Empty: AWS_REGION, AWS_DEFAULT_REGION, else the metadata service's placement/region.
  std::string region;
  // Empty: https://ec2.<region>.amazonaws.com (.amazonaws.com.cn in the China regions).
  std::string endpoint;
  std::string imds_endpoint = kDefaultImdsEndpoint;
  std::string ca_file;  // PEM bundle for the endpoint's TLS; empty: the system's
  std::chrono::milliseconds call_timeout{5000};
  absl::Duration deadline = absl::Seconds(30);  // per CloudProvider call
  int max_attempts = 10;
  absl::Duration backoff_base = absl::Milliseconds(200);
  absl::Duration backoff_max = absl::Seconds(10);
};

// The default endpoint of `region`.
std::string defaultEc2Endpoint(const std::string& region);

class Ec2Provider : public CloudProvider {
 public:
  // The production wiring: libcurl, credentials and region from the environment or IMDS.
  // Unavailable when the region must come from IMDS and it cannot be reached;
  // InvalidArgument for a bad endpoint or half-set AWS_* keys.
  static absl::StatusOr<std::unique_ptr<Ec2Provider>> create(Ec2Options options,
                                                             EnvLookup env = processEnvironment());

  // Everything injected (tests, vpc-sim). `options.region` must be set; an empty endpoint
  // becomes the region's default.
  static absl::StatusOr<std::unique_ptr<Ec2Provider>> create(
      Ec2Options options, std::shared_ptr<HttpTransport> transport,
      std::shared_ptr<CredentialSource> credentials, std::shared_ptr<ImdsClient> imds, Clock clock);

  absl::StatusOr<Instance> describeInstance() override;
  absl::StatusOr<Subnet> describeSubnet(const std::string& subnet_id) override;
  absl::StatusOr<std::vector<NetworkInterface>> listInterfaces(
      const InterfaceFilter& filter) override;
  absl::StatusOr<NetworkInterface> createInterface(const CreateInterfaceRequest& request) override;
  absl::StatusOr<std::string> attachInterface(const std::string& interface_id,
                                              const std::string& instance_id,
                                              int device_index) override;
  absl::Status detachInterface(const std::string& attachment_id, bool force) override;
  absl::Status setDeleteOnTermination(const std::string& interface_id,
                                      const std::string& attachment_id) override;
  absl::Status deleteInterface(const std::string& interface_id) override;
  absl::Status tagInterface(const std::string& interface_id,
                            const std::map<std::string, std::string>& tags) override;
  absl::StatusOr<std::vector<conf::IpAddress>> assignPrivateIps(const std::string& interface_id,
                                                                int count) override;
  absl::Status unassignPrivateIps(const std::string& interface_id,
                                  const std::vector<conf::IpAddress>& ips) override;

 private:
  Ec2Provider(Ec2Options options, std::unique_ptr<Ec2QueryClient> query,
              std::shared_ptr<ImdsClient> imds);
  absl::Time deadline() const;
  absl::StatusOr<std::string> instanceId(absl::Time deadline);
  absl::StatusOr<std::vector<NetworkInterface>> describeInterfaces(const Params& filters,
                                                                   absl::Time deadline);
  std::string newClientToken() const;

  const Ec2Options options_;
  const std::unique_ptr<Ec2QueryClient> query_;
  const std::shared_ptr<ImdsClient> imds_;
  absl::Mutex mu_;
  std::string instance_id_ ABSL_GUARDED_BY(mu_);  // from IMDS, once
};

}  // namespace quasar::ipam::cloud
