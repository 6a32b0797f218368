#include "ipam/cloud/imds.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "conf/json_parse.h"

namespace quasar::ipam::cloud {
namespace {

constexpr char kTokenPath[] = "/latest/api/token";
constexpr char kRolesPath[] = "/latest/meta-data/iam/security-credentials/";
// A token is replaced this long before IMDS would stop taking it.
constexpr absl::Duration kTokenMargin = absl::Seconds(60);

absl::Status httpStatus(const std::string& what, const HttpResponse& r) {
  const std::string text = absl::StrCat("IMDS ", what, ": HTTP ", r.status, ": ",
                                        conf::toValidUtf8(r.body.substr(0, 200)));
  if (r.status == 404) return absl::NotFoundError(text);
  if (r.status == 403) return absl::PermissionDeniedError(text);
  return absl::UnavailableError(text);
}

// The transport's DeadlineExceeded only matters for calls that change something; every IMDS
// call can be repeated.
absl::Status transportStatus(const absl::Status& s) {
  return absl::UnavailableError(absl::StrCat("IMDS: ", s.message()));
}

}  // namespace

ImdsClient::ImdsClient(std::shared_ptr<HttpTransport> transport, ImdsOptions options, Clock clock)
    : transport_(std::move(transport)), options_(std::move(options)), clock_(std::move(clock)) {}

absl::StatusOr<std::string> ImdsClient::token(bool force_new) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.now();
  if (!force_new && !token_.empty() && now < token_renew_at_) return token_;
  HttpRequest req;
  req.method = "PUT";
  req.url = options_.endpoint + kTokenPath;
  req.headers = {{"X-aws-ec2-metadata-token-ttl-seconds",
                  absl::StrCat(absl::ToInt64Seconds(options_.token_ttl))}};
  req.timeout = options_.timeout;
  req.direct = true;
  auto resp = transport_->send(req);
  if (!resp.ok()) return transportStatus(resp.status());
  if (resp->status != 200) return httpStatus("token", *resp);
  token_ = std::string(absl::StripAsciiWhitespace(resp->body));
  if (token_.empty()) return absl::UnavailableError("IMDS token: empty answer");
  token_renew_at_ = now + std::max(options_.token_ttl - kTokenMargin, options_.token_ttl / 2);
  return token_;
}

absl::StatusOr<std::string> ImdsClient::get(absl::string_view path) {
  const std::string what = std::string(path);
  for (int attempt = 0;; ++attempt) {
    auto tok = token(/*force_new=*/attempt > 0);
    if (!tok.ok()) return tok.status();
    HttpRequest req;
    req.url = options_.endpoint + what;
    req.headers = {{"X-aws-ec2-metadata-token", *tok}};
    req.timeout = options_.timeout;
    req.direct = true;
    auto resp = transport_->send(req);
    if (!resp.ok()) return transportStatus(resp.status());
    // 401: the token is no longer valid (IMDS restarted); one more try with a new one.
    if (resp->status == 401 && attempt == 0) continue;
    if (resp->status != 200) return httpStatus(what, *resp);
    return std::move(resp->body);
  }
}

absl::StatusOr<std::string> ImdsClient::instanceId() {
  auto id = get("/latest/meta-data/instance-id");
  if (!id.ok()) return id.status();
  return std::string(absl::StripAsciiWhitespace(*id));
}

absl::StatusOr<std::string> ImdsClient::region() {
  auto region = get("/latest/meta-data/placement/region");
  if (!region.ok()) return region.status();
  return std::string(absl::StripAsciiWhitespace(*region));
}

absl::StatusOr<TimedCredentials> ImdsClient::roleCredentials() {
  auto roles = get(kRolesPath);
  if (roles.status().code() == absl::StatusCode::kNotFound) {
    return absl::PermissionDeniedError(
        "IMDS: the instance has no IAM role (instance profile), and AWS_ACCESS_KEY_ID is not "
        "set");
  }
  if (!roles.ok()) return roles.status();
  std::string role;
  for (absl::string_view line : absl::StrSplit(*roles, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty()) {
      role = std::string(line);
      break;
    }
  }
  if (role.empty()) return absl::PermissionDeniedError("IMDS: the instance has no IAM role");
  auto doc = get(kRolesPath + role);
  if (!doc.ok()) return doc.status();
  auto creds = parseRoleCredentials(*doc);
  if (!creds.ok()) {
    return absl::UnavailableError(
        absl::StrCat("IMDS credentials of role ", role, ": ", creds.status().message()));
  }
  return creds;
}

absl::StatusOr<TimedCredentials> parseRoleCredentials(absl::string_view json) {
  auto doc = conf::parseJson(json);
  if (!doc.ok()) return doc.status();
  if (!doc->is_object()) return absl::InvalidArgumentError("not a JSON object");
  auto field = [&doc](const char* name) -> std::string {
    auto it = doc->find(name);
    return it != doc->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (const std::string code = field("Code"); !code.empty() && code != "Success") {
    return absl::InvalidArgumentError(absl::StrCat("Code is ", code));
  }
  TimedCredentials out;
  out.credentials = {field("AccessKeyId"), field("SecretAccessKey"), field("Token")};
  if (out.credentials.access_key_id.empty() || out.credentials.secret_access_key.empty()) {
    return absl::InvalidArgumentError("no AccessKeyId or SecretAccessKey");
  }
  if (const std::string exp = field("Expiration"); !exp.empty()) {
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, exp, &out.expiration, &err)) {
      return absl::InvalidArgumentError(absl::StrCat("Expiration \"", exp, "\": ", err));
    }
  }
  return out;
}

}  // namespace quasar::ipam::cloud
