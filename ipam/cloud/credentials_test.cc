#include "ipam/cloud/credentials.h"

#include <gtest/gtest.h>

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ipam/cloud/fake_http_transport.h"

namespace quasar::ipam::cloud {
namespace {

EnvLookup envOf(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(Credentials, EnvironmentKeysWithOrWithoutSessionToken) {
  auto c = credentialsFromEnvironment(
      envOf({{"AWS_ACCESS_KEY_ID", "AKID"}, {"AWS_SECRET_ACCESS_KEY", "secret"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->access_key_id, "AKID");
  EXPECT_EQ((*c)->secret_access_key, "secret");
  EXPECT_EQ((*c)->session_token, "");
  auto t = credentialsFromEnvironment(envOf({{"AWS_ACCESS_KEY_ID", "AKID"},
                                             {"AWS_SECRET_ACCESS_KEY", "secret"},
                                             {"AWS_SESSION_TOKEN", "tok"}}));
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_EQ((*t)->session_token, "tok");

  auto none = credentialsFromEnvironment(envOf({}));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(credentialsFromEnvironment(envOf({{"AWS_ACCESS_KEY_ID", "AKID"}})).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Credentials, RegionPrefersAwsRegion) {
  EXPECT_EQ(regionFromEnvironment(
                envOf({{"AWS_REGION", "eu-west-1"}, {"AWS_DEFAULT_REGION", "us-east-1"}})),
            "eu-west-1");
  EXPECT_EQ(regionFromEnvironment(envOf({{"AWS_DEFAULT_REGION", "us-east-1"}})), "us-east-1");
  EXPECT_EQ(regionFromEnvironment(envOf({})), std::nullopt);
}

// IMDS whose role credentials expire at `expiration`; `fail` makes it unreachable.
struct ImdsWithRole {
  absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  absl::Time expiration = now + absl::Hours(1);
  int documents_served = 0;
  bool fail = false;
  std::shared_ptr<FakeHttpTransport> transport = std::make_shared<FakeHttpTransport>(
      [this](const HttpRequest& r) -> absl::StatusOr<HttpResponse> {
        if (fail) return absl::UnavailableError("unreachable");
        if (r.method == "PUT") return HttpResponse{200, "tok"};
        if (absl::EndsWith(r.url, "/security-credentials/")) return HttpResponse{200, "role"};
        ++documents_served;
        return HttpResponse{
            200, absl::StrCat(R"({"Code":"Success","AccessKeyId":"ASIA)", documents_served,
                              R"(","SecretAccessKey":"s","Token":"t","Expiration":")",
                              absl::FormatTime(absl::RFC3339_sec, expiration, absl::UTCTimeZone()),
                              R"("})")};
      });
  Clock clock() {
    return Clock{[this] { return now; }, [this](absl::Duration d) { now += d; },
                 [] { return 0.5; }};
  }
  std::shared_ptr<ImdsClient> imds() {
    return std::make_shared<ImdsClient>(transport, ImdsOptions{"http://imds"}, clock());
  }
};

TEST(Credentials, DefaultSourcePrefersTheEnvironment) {
  ImdsWithRole r;
  auto src = defaultCredentialSource(
      envOf({{"AWS_ACCESS_KEY_ID", "AKID"}, {"AWS_SECRET_ACCESS_KEY", "secret"}}), r.imds(),
      r.clock());
  ASSERT_TRUE(src.ok()) << src.status();
  auto c = (*src)->get();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "AKID");
  EXPECT_TRUE(r.transport->requests().empty());

  auto imds_src = defaultCredentialSource(envOf({}), r.imds(), r.clock());
  ASSERT_TRUE(imds_src.ok());
  auto d = (*imds_src)->get();
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->access_key_id, "ASIA1");
  EXPECT_EQ(d->session_token, "t");

  EXPECT_FALSE(
      defaultCredentialSource(envOf({{"AWS_SECRET_ACCESS_KEY", "s"}}), r.imds(), r.clock()).ok());
}

TEST(Credentials, ImdsCredentialsAreCachedAndRefreshedBeforeExpiration) {
  ImdsWithRole r;
  ImdsCredentialSource src(r.imds(), r.clock(), absl::Minutes(5));
  EXPECT_EQ(src.get()->access_key_id, "ASIA1");
  r.now += absl::Minutes(50);
  EXPECT_EQ(src.get()->access_key_id, "ASIA1");  // cached: 10 min left
  EXPECT_EQ(r.documents_served, 1);
  r.now += absl::Minutes(6);  // 4 min left: inside the refresh window
  r.expiration = r.now + absl::Hours(1);
  EXPECT_EQ(src.get()->access_key_id, "ASIA2");
  EXPECT_EQ(r.documents_served, 2);
}

TEST(Credentials, FailedRefreshKeepsValidCredentialsButNotExpiredOnes) {
  ImdsWithRole r;
  ImdsCredentialSource src(r.imds(), r.clock(), absl::Minutes(5));
  ASSERT_TRUE(src.get().ok());
  r.fail = true;
  r.now += absl::Minutes(57);  // in the window, still valid
  auto kept = src.get();
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->access_key_id, "ASIA1");
  r.now += absl::Minutes(4);  // expired
  EXPECT_EQ(src.get().status().code(), absl::StatusCode::kUnavailable);
  r.fail = false;
  r.expiration = r.now + absl::Hours(1);
  EXPECT_EQ(src.get()->access_key_id, "ASIA2");
}

}  // namespace
}  // namespace quasar::ipam::cloud
