#pragma once
// The EC2 instance metadata service, version 2 (IMDSv2): a session token from
// PUT /latest/api/token (X-aws-ec2-metadata-token-ttl-seconds), then every GET carries it in
// X-aws-ec2-metadata-token. The token is cached until shortly before its TTL ends and fetched
// again at once when the service answers 401 (it restarted, or the token was revoked).
//
// The endpoint is configurable (default http://169.254.169.254) because tests point it at the
// emulated VPC (vpc-sim) or a fake transport.
//
// Errors: Unavailable when the service cannot be reached or answers 5xx (retry later);
// NotFound for a path it does not have (404); PermissionDenied when it refuses a token (403:
// IMDS disabled for the instance). Threading: thread-safe.

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ipam/cloud/clock.h"
#include "ipam/cloud/http_transport.h"
#include "ipam/cloud/sigv4.h"

namespace quasar::ipam::cloud {

inline constexpr char kDefaultImdsEndpoint[] = "http://169.254.169.254";

struct ImdsOptions {
  std::string endpoint = kDefaultImdsEndpoint;
  absl::Duration token_ttl = absl::Seconds(21600);  // the most IMDS grants: 6 hours
  std::chrono::milliseconds timeout{2000};          // per request
};

// Credentials with the time they stop working (InfiniteFuture for long-term keys).
struct TimedCredentials {
  Credentials credentials;
  absl::Time expiration = absl::InfiniteFuture();
};

class ImdsClient {
 public:
  ImdsClient(std::shared_ptr<HttpTransport> transport, ImdsOptions options, Clock clock);

  // The body of GET <endpoint><path>, path from the root: "/latest/meta-data/instance-id".
  absl::StatusOr<std::string> get(absl::string_view path);

  absl::StatusOr<std::string> instanceId();  // /latest/meta-data/instance-id
  absl::StatusOr<std::string> region();      // /latest/meta-data/placement/region
  // The instance profile's role credentials: the first role that
  // /latest/meta-data/iam/security-credentials/ lists, then its JSON document (AccessKeyId,
  // SecretAccessKey, Token, Expiration). PermissionDenied when the instance has no role.
  absl::StatusOr<TimedCredentials> roleCredentials();

 private:
  absl::StatusOr<std::string> token(bool force_new);

  const std::shared_ptr<HttpTransport> transport_;
  const ImdsOptions options_;
  const Clock clock_;
  absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  absl::Time token_renew_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// Parses the role credentials document. InvalidArgument when it is not one, or its Code is not
// "Success".
absl::StatusOr<TimedCredentials> parseRoleCredentials(absl::string_view json);

}  // namespace quasar::ipam::cloud
