// The EC2 client's retry policy: throttling, 5xx, timeouts, deadlines, attempts, credentials.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ipam/cloud/ec2_provider.h"
#include "ipam/cloud/ec2_test_fixture.h"

namespace quasar::ipam::cloud {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace ::quasar::ipam::cloud::ec2test;  // NOLINT: the fixture's helpers

TEST(Ec2Retry, ThrottledTwiceThenSucceedsWithTheSameClientToken) {
  Fixture f;
  int calls = 0;
  f.ec2["CreateNetworkInterface"] = [&calls, &f](const auto&) {
    f.now += absl::Seconds(1);  // EC2's latency
    return ++calls <= 2 ? HttpResponse{503, errorXml("RequestLimitExceeded",
                                                     "Request limit "
                                                     "exceeded.")}
                        : HttpResponse{200, testdata("create_network_interface.xml")};
  };
  auto eni = f.provider()->createInterface({"subnet-1", {}, "", {}, ""});  // token made up
  ASSERT_TRUE(eni.ok()) << eni.status();
  const auto bodies = f.bodies();
  ASSERT_EQ(bodies.size(), 3u);
  EXPECT_EQ(bodies[0], bodies[1]);
  EXPECT_EQ(bodies[1], bodies[2]);
  const std::string token = formFields(bodies[0])["ClientToken"];
  EXPECT_TRUE(absl::StartsWith(token, "quasar-")) << token;
  // Full jitter at random 0.5: half of 200 ms, then half of 400 ms.
  EXPECT_THAT(f.sleeps, ElementsAre(absl::Milliseconds(100), absl::Milliseconds(200)));
  // Each attempt is signed anew.
  const auto reqs = f.transport->requests();
  EXPECT_NE(headerOf(reqs[0], "X-Amz-Date"), headerOf(reqs[2], "X-Amz-Date"));
}

TEST(Ec2Retry, ServerErrorsUntilTheDeadlineAreUnavailable) {
  Fixture f;
  f.answer("DescribeSubnets", 500, errorXml("InternalError", "An internal error has occurred"));
  f.random = 0.999;
  Ec2Options options;
  options.deadline = absl::Seconds(30);
  const absl::Time start = f.now;
  auto subnet = f.provider(options)->describeSubnet("subnet-1");
  EXPECT_EQ(subnet.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(subnet.status().message(), HasSubstr("InternalError"));
  EXPECT_THAT(subnet.status().message(), HasSubstr("deadline"));
  EXPECT_LE(f.now - start, absl::Seconds(30));
  EXPECT_GT(f.bodies().size(), 3u);
  for (absl::Duration d : f.sleeps) EXPECT_LE(d, absl::Seconds(10));  // backoff_max
}

TEST(Ec2Retry, GivesUpAfterMaxAttempts) {
  Fixture f;
  f.answer("DescribeSubnets", 503, errorXml("RequestLimitExceeded", "slow down"));
  Ec2Options options;
  options.max_attempts = 4;
  options.deadline = absl::Hours(1);
  auto subnet = f.provider(options)->describeSubnet("subnet-1");
  EXPECT_EQ(subnet.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(subnet.status().message(), HasSubstr("after 4 attempts"));
  EXPECT_EQ(f.bodies().size(), 4u);
}

TEST(Ec2Retry, ClientErrorsAreNotRetried) {
  Fixture f;
  f.answer("CreateNetworkInterface", 400,
           errorXml("InvalidParameterValue", "Value (sg-x) for parameter groupId is invalid."));
  auto eni = f.provider()->createInterface({"subnet-1", {"sg-x"}, "", {}, "t"});
  EXPECT_EQ(eni.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(eni.status().message(),
              HasSubstr("CreateNetworkInterface: InvalidParameterValue: Value (sg-x)"));
  EXPECT_EQ(f.bodies().size(), 1u);
  EXPECT_TRUE(f.sleeps.empty());

  f.answer("AttachNetworkInterface", 400,
           errorXml("AttachmentLimitExceeded", "Interface count 4 exceeds the limit"));
  auto att = f.provider()->attachInterface("eni-1", "i-1", 3);
  EXPECT_EQ(att.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(att.status().message(), HasSubstr("AttachmentLimitExceeded"));
}

TEST(Ec2Retry, TimeoutsAreRetriedOnlyWhenRepeatingIsHarmless) {
  Fixture f;
  int describes = 0;
  f.transport->setHandler([&](const HttpRequest& r) -> absl::StatusOr<HttpResponse> {
    auto fields = formFields(r.body);
    if (fields["Action"] == "DescribeSubnets" && ++describes == 1) {
      return absl::DeadlineExceededError("Timeout was reached");
    }
    if (fields["Action"] == "DescribeSubnets") {
      return HttpResponse{200, testdata("describe_subnets.xml")};
    }
    return absl::DeadlineExceededError("Timeout was reached");
  });
  auto p = f.provider();
  EXPECT_TRUE(p->describeSubnet("subnet-9d4a7b6c").ok());
  EXPECT_EQ(describes, 2);

  f.transport->clear();
  auto ips = p->assignPrivateIps("eni-1", 1);
  EXPECT_EQ(ips.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(ips.status().message(), HasSubstr("outcome is unknown"));
  EXPECT_EQ(f.transport->requests().size(), 1u);
}

TEST(Ec2Retry, UnreachableEndpointIsRetriedEvenForNonIdempotentCalls) {
  Fixture f;
  int calls = 0;
  f.transport->setHandler([&](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    if (++calls == 1) return absl::UnavailableError("Couldn't connect to server");
    return HttpResponse{200, testdata("attach_network_interface.xml")};
  });
  auto att = f.provider()->attachInterface("eni-1", "i-1", 1);
  ASSERT_TRUE(att.ok()) << att.status();
  EXPECT_EQ(*att, "eni-attach-d94b09b0");
  EXPECT_EQ(calls, 2);
}

TEST(Ec2Retry, CredentialProblemsAreNotRetriedButUnreachableCredentialsAre) {
  struct Failing : CredentialSource {
    absl::Status status;
    int calls = 0;
    absl::StatusOr<Credentials> get() override {
      if (++calls == 1 || status.code() != absl::StatusCode::kUnavailable) return status;
      return Credentials{"A", "S", ""};
    }
  };
  for (auto code : {absl::StatusCode::kPermissionDenied, absl::StatusCode::kUnavailable}) {
    Fixture f;
    f.answer("DescribeSubnets", 200, testdata("describe_subnets.xml"));
    auto creds = std::make_shared<Failing>();
    creds->status = absl::Status(code, "no credentials");
    auto p = Ec2Provider::create(optionsFor("eu-west-1", kEndpoint), f.transport, creds, nullptr,
                                 f.clock());
    ASSERT_TRUE(p.ok());
    auto subnet = (*p)->describeSubnet("subnet-9d4a7b6c");
    if (code == absl::StatusCode::kPermissionDenied) {
      EXPECT_EQ(subnet.status().code(), code);
      EXPECT_EQ(creds->calls, 1);
    } else {
      EXPECT_TRUE(subnet.ok()) << subnet.status();
      EXPECT_EQ(creds->calls, 2);
    }
  }
}

TEST(Ec2Retry, BackoffIsFullJitterUnderACap) {
  const absl::Duration base = absl::Milliseconds(100), cap = absl::Seconds(2);
  EXPECT_EQ(backoffDelay(0, base, cap, 0.0), absl::ZeroDuration());
  EXPECT_EQ(backoffDelay(0, base, cap, 0.5), absl::Milliseconds(50));
  EXPECT_EQ(backoffDelay(3, base, cap, 0.5), absl::Milliseconds(400));
  EXPECT_EQ(backoffDelay(10, base, cap, 0.5), absl::Seconds(1));  // capped at 2 s
  EXPECT_LT(backoffDelay(100, base, cap, 0.999999), cap);
}

}  // namespace
}  // namespace quasar::ipam::cloud
