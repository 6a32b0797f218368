#pragma once
// Where the EC2 client's credentials and region come from, in the AWS SDKs' order: the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; AWS_REGION, then
// AWS_DEFAULT_REGION) first, else the instance metadata service (the instance profile's role,
// placement/region).

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "ipam/cloud/imds.h"

namespace quasar::ipam::cloud {

// Reads one environment variable (std::getenv in production; a map in tests).
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
EnvLookup processEnvironment();

// Credentials from the environment; nullopt when AWS_ACCESS_KEY_ID is not set.
// InvalidArgument when only one of the key id and the secret is set.
absl::StatusOr<std::optional<Credentials>> credentialsFromEnvironment(const EnvLookup& env);
// AWS_REGION, else AWS_DEFAULT_REGION; nullopt when neither is set.
std::optional<std::string> regionFromEnvironment(const EnvLookup& env);

class CredentialSource {
 public:
  virtual ~CredentialSource() = default;
  // Credentials valid now. Unavailable: their source cannot be reached (retry later);
  // PermissionDenied: there are none.
  virtual absl::StatusOr<Credentials> get() = 0;
};

// Fixed credentials (the environment's, or tests').
class StaticCredentialSource : public CredentialSource {
 public:
  explicit StaticCredentialSource(Credentials c) : credentials_(std::move(c)) {}
  absl::StatusOr<Credentials> get() override { return credentials_; }

 private:
  const Credentials credentials_;
};

// The instance profile's credentials from IMDS, cached and fetched again `refresh_before` their
// Expiration. When a refresh fails while the cached ones are still valid, those are returned
// (the next call tries again). Thread-safe; concurrent callers share one refresh.
class ImdsCredentialSource : public CredentialSource {
 public:
  ImdsCredentialSource(std::shared_ptr<ImdsClient> imds, Clock clock,
                       absl::Duration refresh_before = absl::Minutes(5));
  absl::StatusOr<Credentials> get() override;

 private:
  const std::shared_ptr<ImdsClient> imds_;
  const Clock clock_;
  const absl::Duration refresh_before_;
  absl::Mutex mu_;
  std::optional<TimedCredentials> cached_ ABSL_GUARDED_BY(mu_);
};

// The environment's credentials when it has them, else IMDS's.
absl::StatusOr<std::shared_ptr<CredentialSource>> defaultCredentialSource(
    const EnvLookup& env, std::shared_ptr<ImdsClient> imds, Clock clock);

}  // namespace quasar::ipam::cloud
