#include "ipam/cloud/credentials.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace quasar::ipam::cloud {

EnvLookup processEnvironment() {
  return [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

absl::StatusOr<std::optional<Credentials>> credentialsFromEnvironment(const EnvLookup& env) {
  std::optional<std::string> id = env("AWS_ACCESS_KEY_ID");
  std::optional<std::string> secret = env("AWS_SECRET_ACCESS_KEY");
  if (!id.has_value() && !secret.has_value()) return std::nullopt;
  if (!id.has_value() || !secret.has_value()) {
    return absl::InvalidArgumentError(
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
  }
  return Credentials{*id, *secret, env("AWS_SESSION_TOKEN").value_or("")};
}

std::optional<std::string> regionFromEnvironment(const EnvLookup& env) {
  if (auto r = env("AWS_REGION")) return r;
  return env("AWS_DEFAULT_REGION");
}

ImdsCredentialSource::ImdsCredentialSource(std::shared_ptr<ImdsClient> imds, Clock clock,
                                           absl::Duration refresh_before)
    : imds_(std::move(imds)), clock_(std::move(clock)), refresh_before_(refresh_before) {}

absl::StatusOr<Credentials> ImdsCredentialSource::get() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.now();
  if (cached_.has_value() && now < cached_->expiration - refresh_before_) {
    return cached_->credentials;
  }
  auto fresh = imds_->roleCredentials();
  if (fresh.ok()) {
    cached_ = *fresh;
    return cached_->credentials;
  }
  if (cached_.has_value() && now < cached_->expiration) {
    spdlog::warn(
        "ec2: refreshing credentials from IMDS failed, using the current ones until "
        "{}: {}",
        absl::FormatTime(cached_->expiration), fresh.status().ToString());
    return cached_->credentials;
  }
  return fresh.status();
}

absl::StatusOr<std::shared_ptr<CredentialSource>> defaultCredentialSource(
    const EnvLookup& env, std::shared_ptr<ImdsClient> imds, Clock clock) {
  auto from_env = credentialsFromEnvironment(env);
  if (!from_env.ok()) return from_env.status();
  if (from_env->has_value()) return std::make_shared<StaticCredentialSource>(**from_env);
  return std::make_shared<ImdsCredentialSource>(std::move(imds), std::move(clock));
}

}  // namespace quasar::ipam::cloud
