#pragma once
// One EC2 Query API action, signed and retried: POST / with an application/x-www-form-urlencoded
// body Action=<action>&Version=2016-11-15&<params>, signed with SigV4 for service "ec2", sent
// over an HttpTransport.
//
// Retry policy: exponential backoff with full jitter (a delay drawn uniformly from
// [0, min(backoff_max, backoff_base * 2^attempt))) while the error is Unavailable: throttling
// (RequestLimitExceeded), EC2's 5xx, a request that never reached EC2, or credentials that
// could not be fetched. A timeout or a connection broken after the request went out is
// retried only for idempotent calls; for the others EC2 may have acted, so the caller gets
// Unavailable saying the outcome is unknown. Every other error is returned at once. Each retry
// sends the same body (so a ClientToken stays the same) with a fresh signature. No attempt
// starts, and no backoff sleeps, past the deadline; then the last error is returned as
// Unavailable.
//
// Threading: thread-safe; calls run in the caller's thread and sleep there between attempts.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ipam/cloud/clock.h"
#include "ipam/cloud/credentials.h"
#include "ipam/cloud/http_transport.h"
#include "ipam/cloud/sigv4.h"

namespace quasar::ipam::cloud {

struct QueryOptions {
  std::string endpoint;  // http(s)://host[:port], e.g. https://ec2.us-east-1.amazonaws.com
  std::string region;    // the signing region
  std::chrono::milliseconds call_timeout{5000};  // one HTTP exchange
  int max_attempts = 10;
  absl::Duration backoff_base = absl::Milliseconds(200);
  absl::Duration backoff_max = absl::Seconds(10);
};

enum class Idempotency {
  kIdempotent,     // sending it twice has the effect of sending it once (Describe*, ClientToken)
  kNotIdempotent,  // a second send may act again (AssignPrivateIpAddresses with a count)
};

// Full jitter: uniform in [0, min(max, base * 2^attempt)), `random01` in [0, 1).
absl::Duration backoffDelay(int attempt, absl::Duration base, absl::Duration max, double random01);

// Action=..&Version=2016-11-15&params, each name and value percent-encoded (RFC 3986).
std::string queryBody(absl::string_view action, const Params& params);

class Ec2QueryClient {
 public:
  // InvalidArgument when the endpoint is not http(s)://host[:port][/].
  static absl::StatusOr<std::unique_ptr<Ec2QueryClient>> create(
      QueryOptions options, std::shared_ptr<HttpTransport> transport,
      std::shared_ptr<CredentialSource> credentials, Clock clock);

  // The body of EC2's 2xx answer, or the error (ec2_xml.h's mapping; see above).
  absl::StatusOr<std::string> call(absl::string_view action, const Params& params,
                                   Idempotency idempotency, absl::Time deadline);

  // Runs `attempt` under the retry policy above (for calls that are not Query API actions,
  // e.g. the metadata service's, within the same deadline). `what` names it in messages.
  absl::StatusOr<std::string> withRetries(
      absl::string_view what, Idempotency idempotency, absl::Time deadline,
      const std::function<absl::StatusOr<std::string>(absl::Duration timeout)>& attempt);

  const Clock& clock() const { return clock_; }

 private:
  Ec2QueryClient(QueryOptions options, std::string url, std::string host,
                 std::shared_ptr<HttpTransport> transport,
                 std::shared_ptr<CredentialSource> credentials, Clock clock);
  absl::StatusOr<std::string> sendOnce(absl::string_view action, const std::string& body,
                                       absl::Duration timeout);

  const QueryOptions options_;
  const std::string url_;   // endpoint + "/"
  const std::string host_;  // the Host header, signed
  const std::shared_ptr<HttpTransport> transport_;
  const std::shared_ptr<CredentialSource> credentials_;
  const Clock clock_;
};

}  // namespace quasar::ipam::cloud
