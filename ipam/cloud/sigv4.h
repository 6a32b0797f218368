#pragma once
// AWS Signature Version 4 (the IAM User Guide's "Create a signed AWS API request"): the
// canonical request, the string to sign, the derived signing key and the Authorization header.
// Pure functions over values: no clock, no I/O. Thread-safe.
//
// Canonical form, as the spec and AWS's test suite (aws-sig-v4-test-suite) define it:
//   - the path as it appears in the request line, dot segments and repeated slashes removed,
//     then every byte outside RFC 3986's unreserved set (A-Z a-z 0-9 - _ . ~) and '/' written
//     %XX (upper-case hex). A path already percent-encoded is thus encoded a second time, which
//     is what every service but S3 expects;
//   - query parameters given decoded, each key and value encoded the same way (space is %20,
//     never '+'), sorted by encoded key, then by encoded value;
//   - header names lower-cased, values trimmed with inner runs of spaces collapsed to one,
//     repeated names joined with ',' in order, sorted by name; host, x-amz-date and (with a
//     session token) x-amz-security-token are always signed.

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace quasar::ipam::cloud {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
};

using Params = std::vector<std::pair<std::string, std::string>>;

struct SigningRequest {
  std::string method = "GET";
  std::string host;  // the Host header as sent: host, or host:port for a non-default port
  std::string path = "/";
  Params query;    // decoded; encoded and sorted by the signer
  Params headers;  // more headers to sign (e.g. content-type); not host, x-amz-date or the token
  std::string payload;
};

struct SigningScope {
  std::string region;   // us-east-1
  std::string service;  // ec2
  absl::Time time;
};

// What to send, and the intermediate texts (for tests, and for debugging a
// SignatureDoesNotMatch: EC2 does not echo its own canonical request).
struct SignedHeaders {
  std::string authorization;   // Authorization
  std::string amz_date;        // X-Amz-Date: 20150830T123600Z
  std::string security_token;  // X-Amz-Security-Token; empty without a session token
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_header_names;  // content-type;host;x-amz-date
  std::string signature;            // lower-case hex
};

SignedHeaders signRequest(const SigningRequest& request, const Credentials& credentials,
                          const SigningScope& scope);

// The pieces, exposed for the transport and for tests.
// RFC 3986 percent-encoding: unreserved bytes stay, '/' stays when keep_slash.
std::string uriEncode(absl::string_view text, bool keep_slash);
// The canonical URI of a request-line path (normalised, encoded; "/" for an empty path).
std::string canonicalUri(absl::string_view path);
// key=value pairs encoded, sorted and joined with '&': also the query string to send.
std::string canonicalQuery(const Params& query);
// Lower-case hex of SHA-256(data).
std::string sha256Hex(absl::string_view data);
// HMAC-SHA256(key, data), raw 32 bytes.
std::string hmacSha256(absl::string_view key, absl::string_view data);
// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, yyyymmdd), region), service), "aws4_request").
std::string signingKey(absl::string_view secret, absl::string_view date_yyyymmdd,
                       absl::string_view region, absl::string_view service);
std::string hexEncode(absl::string_view bytes);

}  // namespace quasar::ipam::cloud
