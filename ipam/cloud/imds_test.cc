#include "ipam/cloud/imds.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "ipam/cloud/fake_http_transport.h"

namespace quasar::ipam::cloud {
namespace {

using ::testing::HasSubstr;

constexpr char kEndpoint[] = "http://10.99.0.1:1338";

// The EC2 User Guide's example of a role's credentials document ("Retrieve security
// credentials from instance metadata").
constexpr char kRoleDocument[] = R"({
  "Code" : "Success",
  "LastUpdated" : "2012-04-26T16:39:16Z",
  "Type" : "AWS-HMAC",
  "AccessKeyId" : "ASIAIOSFODNN7EXAMPLE",
  "SecretAccessKey" : "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  "Token" : "token",
  "Expiration" : "2017-05-17T15:09:54Z"
})";

struct FakeTime {
  absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  Clock clock() {
    return Clock{[this] { return now; }, [this](absl::Duration d) { now += d; },
                 [] { return 0.5; }};
  }
};

// An IMDSv2 that hands out numbered tokens and answers only requests carrying the current one.
class FakeImds {
 public:
  std::atomic<int> tokens_issued{0};
  std::atomic<bool> revoke{false};  // the next GET gets 401, once
  bool has_role = true;

  absl::StatusOr<HttpResponse> operator()(const HttpRequest& r) {
    const std::string path = r.url.substr(std::string(kEndpoint).size());
    if (r.method == "PUT" && path == "/latest/api/token") {
      if (headerOf(r, "X-aws-ec2-metadata-token-ttl-seconds") != "21600") {
        return HttpResponse{400, "bad ttl"};
      }
      return HttpResponse{200, "token-" + std::to_string(++tokens_issued)};
    }
    if (r.method != "GET") return HttpResponse{405, ""};
    if (headerOf(r, "X-aws-ec2-metadata-token") != "token-" + std::to_string(tokens_issued) ||
        revoke.exchange(false)) {
      return HttpResponse{401, ""};
    }
    if (path == "/latest/meta-data/instance-id") return HttpResponse{200, "i-0abc\n"};
    if (path == "/latest/meta-data/placement/region") return HttpResponse{200, "eu-west-1"};
    if (path == "/latest/meta-data/iam/security-credentials/") {
      return has_role ? HttpResponse{200, "node-role\n"} : HttpResponse{404, "Not Found"};
    }
    if (path == "/latest/meta-data/iam/security-credentials/node-role") {
      return HttpResponse{200, kRoleDocument};
    }
    return HttpResponse{404, "Not Found"};
  }
};

struct ImdsFixture {
  FakeTime time;
  FakeImds imds;
  std::shared_ptr<FakeHttpTransport> transport =
      std::make_shared<FakeHttpTransport>([this](const HttpRequest& r) { return imds(r); });
  ImdsClient client{transport, ImdsOptions{kEndpoint}, time.clock()};
};

TEST(Imds, TokenFirstThenGetsCarryIt) {
  ImdsFixture f;
  auto id = f.client.instanceId();
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "i-0abc");
  auto region = f.client.region();
  ASSERT_TRUE(region.ok()) << region.status();
  EXPECT_EQ(*region, "eu-west-1");
  auto reqs = f.transport->requests();
  ASSERT_EQ(reqs.size(), 3u);  // one token for both
  EXPECT_EQ(reqs[0].method, "PUT");
  EXPECT_EQ(reqs[0].url, std::string(kEndpoint) + "/latest/api/token");
  EXPECT_EQ(headerOf(reqs[0], "X-aws-ec2-metadata-token-ttl-seconds"), "21600");
  EXPECT_EQ(reqs[1].url, std::string(kEndpoint) + "/latest/meta-data/instance-id");
  EXPECT_EQ(headerOf(reqs[1], "X-aws-ec2-metadata-token"), "token-1");
  EXPECT_EQ(headerOf(reqs[2], "X-aws-ec2-metadata-token"), "token-1");
  for (const HttpRequest& r : reqs) EXPECT_TRUE(r.direct);  // no proxy reaches link-local
}

TEST(Imds, TokenIsRenewedBeforeItsTtlEnds) {
  ImdsFixture f;
  ASSERT_TRUE(f.client.instanceId().ok());
  f.time.now += absl::Hours(5);  // well inside 6 h
  ASSERT_TRUE(f.client.instanceId().ok());
  EXPECT_EQ(f.imds.tokens_issued, 1);
  f.time.now += absl::Hours(1) - absl::Seconds(30);  // 30 s before the TTL ends
  ASSERT_TRUE(f.client.instanceId().ok());
  EXPECT_EQ(f.imds.tokens_issued, 2);
}

TEST(Imds, RejectedTokenIsReplacedOnce) {
  ImdsFixture f;
  ASSERT_TRUE(f.client.instanceId().ok());
  f.imds.revoke = true;
  auto id = f.client.instanceId();
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(f.imds.tokens_issued, 2);

  // A service that rejects every token: the call fails after one renewal, it does not loop.
  f.transport->setHandler([&f](const HttpRequest& r) -> absl::StatusOr<HttpResponse> {
    if (r.method == "PUT") return HttpResponse{200, "t-" + std::to_string(++f.imds.tokens_issued)};
    return HttpResponse{401, ""};
  });
  f.transport->clear();
  EXPECT_EQ(f.client.instanceId().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(f.transport->requests().size(), 3u);  // GET, PUT, GET
}

TEST(Imds, RoleCredentials) {
  ImdsFixture f;
  auto creds = f.client.roleCredentials();
  ASSERT_TRUE(creds.ok()) << creds.status();
  EXPECT_EQ(creds->credentials.access_key_id, "ASIAIOSFODNN7EXAMPLE");
  EXPECT_EQ(creds->credentials.secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  EXPECT_EQ(creds->credentials.session_token, "token");
  EXPECT_EQ(creds->expiration,
            absl::FromCivil(absl::CivilSecond(2017, 5, 17, 15, 9, 54), absl::UTCTimeZone()));

  f.imds.has_role = false;
  auto none = f.client.roleCredentials();
  EXPECT_EQ(none.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(none.status().message(), HasSubstr("IAM role"));
}

TEST(Imds, FailuresMapToStatusCodes) {
  ImdsFixture f;
  f.transport->setHandler([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return absl::UnavailableError("connect: refused");
  });
  EXPECT_EQ(f.client.instanceId().status().code(), absl::StatusCode::kUnavailable);
  f.transport->setHandler([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return absl::DeadlineExceededError("timed out");
  });
  EXPECT_EQ(f.client.instanceId().status().code(), absl::StatusCode::kUnavailable);
  f.transport->setHandler([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return HttpResponse{403, ""};
  });
  EXPECT_EQ(f.client.instanceId().status().code(), absl::StatusCode::kPermissionDenied);
  f.transport->setHandler([](const HttpRequest& r) -> absl::StatusOr<HttpResponse> {
    return r.method == "PUT" ? HttpResponse{200, "t"} : HttpResponse{404, ""};
  });
  EXPECT_EQ(f.client.get("/latest/meta-data/nothing").status().code(), absl::StatusCode::kNotFound);
}

TEST(Imds, ParseRoleCredentialsRejectsBadDocuments) {
  EXPECT_FALSE(parseRoleCredentials("not json").ok());
  EXPECT_FALSE(parseRoleCredentials("[]").ok());
  EXPECT_FALSE(parseRoleCredentials(R"({"Code":"Failure","AccessKeyId":"a",
                                        "SecretAccessKey":"b"})")
                   .ok());
  EXPECT_FALSE(parseRoleCredentials(R"({"AccessKeyId":"a"})").ok());
  EXPECT_FALSE(parseRoleCredentials(R"({"AccessKeyId":"a","SecretAccessKey":"b",
                                        "Expiration":"tomorrow"})")
                   .ok());
  auto no_expiry = parseRoleCredentials(R"({"AccessKeyId":"a","SecretAccessKey":"b"})");
  ASSERT_TRUE(no_expiry.ok());
  EXPECT_EQ(no_expiry->expiration, absl::InfiniteFuture());
}

}  // namespace
}  // namespace quasar::ipam::cloud
