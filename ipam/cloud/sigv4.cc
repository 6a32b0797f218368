#include "ipam/cloud/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace quasar::ipam::cloud {
namespace {

constexpr char kAlgorithm[] = "AWS4-HMAC-SHA256";

bool isUnreserved(unsigned char c) {
  return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

// Trimmed, with every run of spaces inside collapsed to one (the spec's "sequential spaces").
std::string canonicalHeaderValue(absl::string_view value) {
  value = absl::StripAsciiWhitespace(value);
  std::string out;
  out.reserve(value.size());
  bool in_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      if (!in_space) out.push_back(' ');
      in_space = true;
    } else {
      out.push_back(c);
      in_space = false;
    }
  }
  return out;
}

}  // namespace

std::string hexEncode(absl::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

std::string uriEncode(absl::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (isUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string canonicalUri(absl::string_view path) {
  // RFC 3986 remove_dot_segments, plus empty segments dropped ("//a//" is "/a/").
  std::vector<absl::string_view> kept;
  bool trailing_slash = false;
  for (absl::string_view seg : absl::StrSplit(path, '/')) {
    trailing_slash = seg.empty() || seg == "." || seg == "..";
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (!kept.empty()) kept.pop_back();
      continue;
    }
    kept.push_back(seg);
  }
  std::string out = "/";
  for (size_t i = 0; i < kept.size(); ++i) {
    if (i > 0) out.push_back('/');
    out += uriEncode(kept[i], /*keep_slash=*/false);
  }
  if (trailing_slash && !kept.empty()) out.push_back('/');
  return out;
}

std::string canonicalQuery(const Params& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [k, v] : query) encoded.emplace_back(uriEncode(k, false), uriEncode(v, false));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [k, v] : encoded) {
    if (!out.empty()) out.push_back('&');
    absl::StrAppend(&out, k, "=", v);
  }
  return out;
}

std::string sha256Hex(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return hexEncode(absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string hmacSha256(absl::string_view key, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // Only fails on allocation failure inside OpenSSL, which is not a condition to handle here.
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
           &len) == nullptr) {
    abort();
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string signingKey(absl::string_view secret, absl::string_view date_yyyymmdd,
                       absl::string_view region, absl::string_view service) {
  std::string k = hmacSha256(absl::StrCat("AWS4", secret), date_yyyymmdd);
  k = hmacSha256(k, region);
  k = hmacSha256(k, service);
  return hmacSha256(k, "aws4_request");
}

SignedHeaders signRequest(const SigningRequest& request, const Credentials& credentials,
                          const SigningScope& scope) {
  SignedHeaders out;
  out.amz_date = absl::FormatTime("%Y%m%dT%H%M%SZ", scope.time, absl::UTCTimeZone());
  const std::string date = out.amz_date.substr(0, 8);
  out.security_token = credentials.session_token;

  // Ordered by lower-case name; repeated names keep their order, joined with ','.
  std::map<std::string, std::string> headers;
  auto add = [&headers](absl::string_view name, absl::string_view value) {
    std::string& v = headers[absl::AsciiStrToLower(name)];
    if (!v.empty()) v.push_back(',');
    v += canonicalHeaderValue(value);
  };
  add("host", request.host);
  for (const auto& [name, value] : request.headers) add(name, value);
  add("x-amz-date", out.amz_date);
  if (!credentials.session_token.empty()) add("x-amz-security-token", credentials.session_token);

  std::string canonical_headers;
  std::vector<absl::string_view> names;
  for (const auto& [name, value] : headers) {
    absl::StrAppend(&canonical_headers, name, ":", value, "\n");
    names.push_back(name);
  }
  out.signed_header_names = absl::StrJoin(names, ";");

  out.canonical_request =
      absl::StrCat(absl::AsciiStrToUpper(request.method), "\n", canonicalUri(request.path), "\n",
                   canonicalQuery(request.query), "\n", canonical_headers, "\n",
                   out.signed_header_names, "\n", sha256Hex(request.payload));
  const std::string scope_text =
      absl::StrCat(date, "/", scope.region, "/", scope.service, "/aws4_request");
  out.string_to_sign = absl::StrCat(kAlgorithm, "\n", out.amz_date, "\n", scope_text, "\n",
                                    sha256Hex(out.canonical_request));
  const std::string key =
      signingKey(credentials.secret_access_key, date, scope.region, scope.service);
  out.signature = hexEncode(hmacSha256(key, out.string_to_sign));
  out.authorization =
      absl::StrCat(kAlgorithm, " Credential=", credentials.access_key_id, "/", scope_text,
                   ", SignedHeaders=", out.signed_header_names, ", Signature=", out.signature);
  return out;
}

}  // namespace quasar::ipam::cloud
