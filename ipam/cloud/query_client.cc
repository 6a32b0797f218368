#include "ipam/cloud/query_client.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "ipam/cloud/ec2_xml.h"
#include "spdlog/spdlog.h"

namespace quasar::ipam::cloud {
namespace {

constexpr char kContentType[] = "application/x-www-form-urlencoded; charset=utf-8";

bool is2xx(int code) { return code >= 200 && code <= 299; }

}  // namespace

absl::Duration backoffDelay(int attempt, absl::Duration base, absl::Duration max, double random01) {
  // 2^attempt overflows nothing: the exponent is capped well before a double's range ends.
  const double factor = std::ldexp(1.0, std::min(attempt, 60));
  const absl::Duration ceiling = std::min(max, base * factor);
  return ceiling * std::clamp(random01, 0.0, 1.0);
}

std::string queryBody(absl::string_view action, const Params& params) {
  std::string body = absl::StrCat("Action=", uriEncode(action, false), "&Version=", kEc2ApiVersion);
  for (const auto& [name, value] : params) {
    absl::StrAppend(&body, "&", uriEncode(name, false), "=", uriEncode(value, false));
  }
  return body;
}

absl::StatusOr<std::unique_ptr<Ec2QueryClient>> Ec2QueryClient::create(
    QueryOptions options, std::shared_ptr<HttpTransport> transport,
    std::shared_ptr<CredentialSource> credentials, Clock clock) {
  absl::string_view ep = options.endpoint;
  absl::string_view scheme;
  if (absl::ConsumePrefix(&ep, "https://")) {
    scheme = "https://";
  } else if (absl::ConsumePrefix(&ep, "http://")) {
    scheme = "http://";
  } else {
    return absl::InvalidArgumentError("ec2 endpoint \"" + options.endpoint +
                                      "\" is not http:// or https://");
  }
  absl::ConsumeSuffix(&ep, "/");
  if (ep.empty() || absl::StrContains(ep, '/') || absl::StrContains(ep, '?') ||
      absl::StrContains(ep, '@')) {
    return absl::InvalidArgumentError("ec2 endpoint \"" + options.endpoint +
                                      "\" is not scheme://host[:port]");
  }
  if (options.region.empty()) return absl::InvalidArgumentError("ec2: no region");
  const std::string host(ep);
  std::string url = absl::StrCat(scheme, host, "/");
  return std::unique_ptr<Ec2QueryClient>(
      new Ec2QueryClient(std::move(options), std::move(url), host, std::move(transport),
                         std::move(credentials), std::move(clock)));
}

Ec2QueryClient::Ec2QueryClient(QueryOptions options, std::string url, std::string host,
                               std::shared_ptr<HttpTransport> transport,
                               std::shared_ptr<CredentialSource> credentials, Clock clock)
    : options_(std::move(options)),
      url_(std::move(url)),
      host_(std::move(host)),
      transport_(std::move(transport)),
      credentials_(std::move(credentials)),
      clock_(std::move(clock)) {}

absl::StatusOr<std::string> Ec2QueryClient::sendOnce(absl::string_view action,
                                                     const std::string& body,
                                                     absl::Duration timeout) {
  auto creds = credentials_->get();
  if (!creds.ok()) return creds.status();
  SigningRequest sr;
  sr.method = "POST";
  sr.host = host_;
  sr.path = "/";
  sr.headers = {{"Content-Type", kContentType}};
  sr.payload = body;
  const SignedHeaders signed_headers =
      signRequest(sr, *creds, SigningScope{options_.region, "ec2", clock_.now()});

  HttpRequest req;
  req.method = "POST";
  req.url = url_;
  req.headers = {{"Host", host_},
                 {"Content-Type", kContentType},
                 {"X-Amz-Date", signed_headers.amz_date},
                 {"Authorization", signed_headers.authorization}};
  if (!signed_headers.security_token.empty()) {
    req.headers.emplace_back("X-Amz-Security-Token", signed_headers.security_token);
  }
  req.body = body;
  req.timeout = std::max(std::chrono::milliseconds(1),
                         std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
  auto resp = transport_->send(req);
  if (!resp.ok()) {
    return absl::Status(resp.status().code(),
                        absl::StrCat("EC2 ", action, ": ", resp.status().message()));
  }
  if (!is2xx(resp->status)) return ec2ErrorStatus(action, resp->status, resp->body);
  return std::move(resp->body);
}

absl::StatusOr<std::string> Ec2QueryClient::withRetries(
    absl::string_view what, Idempotency idempotency, absl::Time deadline,
    const std::function<absl::StatusOr<std::string>(absl::Duration timeout)>& attempt) {
  absl::Status last;
  for (int n = 0;; ++n) {
    const absl::Time now = clock_.now();
    if (now >= deadline) {
      return absl::UnavailableError(
          absl::StrCat(what, ": deadline passed after ", n, " attempts; last: ", last.message()));
    }
    const absl::Duration timeout =
        std::min(absl::FromChrono(options_.call_timeout), deadline - now);
    absl::StatusOr<std::string> result = attempt(timeout);
    if (result.ok()) return result;
    last = result.status();
    if (last.code() == absl::StatusCode::kDeadlineExceeded) {
      if (idempotency == Idempotency::kNotIdempotent) {
        return absl::UnavailableError(absl::StrCat(
            last.message(), " (the outcome is unknown: EC2 may have acted on the request)"));
      }
    } else if (last.code() != absl::StatusCode::kUnavailable) {
      return last;
    }
    if (n + 1 >= options_.max_attempts) {
      return absl::UnavailableError(
          absl::StrCat(what, ": gave up after ", n + 1, " attempts; last: ", last.message()));
    }
    const absl::Duration delay =
        backoffDelay(n, options_.backoff_base, options_.backoff_max, clock_.random());
    if (clock_.now() + delay >= deadline) {
      return absl::UnavailableError(absl::StrCat(what, ": deadline would pass before attempt ",
                                                 n + 2, "; last: ", last.message()));
    }
    spdlog::warn("ec2: retrying what={} attempt={} in={}ms error={}", std::string(what), n + 1,
                 absl::ToInt64Milliseconds(delay), std::string(last.message()));
    clock_.sleep(delay);
  }
}

absl::StatusOr<std::string> Ec2QueryClient::call(absl::string_view action, const Params& params,
                                                 Idempotency idempotency, absl::Time deadline) {
  const std::string body = queryBody(action, params);
  return withRetries(absl::StrCat("EC2 ", action), idempotency, deadline,
                     [&](absl::Duration timeout) { return sendOnce(action, body, timeout); });
}

}  // namespace quasar::ipam::cloud
