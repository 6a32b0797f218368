#pragma once
// Test fixture of the EC2 provider's unit tests: an EC2 endpoint and IMDS behind a
// FakeHttpTransport, on a fake clock, and the EC2 API Reference's example responses (testdata/).

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ipam/cloud/ec2_provider.h"
#include "ipam/cloud/fake_http_transport.h"

namespace quasar::ipam::cloud::ec2test {

inline constexpr char kEndpoint[] = "http://10.99.0.2:8080";
inline constexpr char kImds[] = "http://10.99.0.1";

inline std::string testdata(const std::string& name) {
  std::ifstream in(std::string(QUASAR_CLOUD_TESTDATA) + "/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string errorXml(const std::string& code, const std::string& message) {
  return absl::StrCat("<Response><Errors><Error><Code>", code, "</Code><Message>", message,
                      "</Message></Error></Errors><RequestID>req-1</RequestID></Response>");
}

inline conf::IpAddress ip(const char* s) { return *conf::IpAddress::parse(s); }

inline Ec2Options optionsFor(const char* region, const char* endpoint) {
  Ec2Options o;
  o.region = region;
  o.endpoint = endpoint;
  return o;
}

// An EC2 endpoint and IMDS behind a FakeHttpTransport, on a fake clock. `ec2` answers the
// Query API by action (the form's Action field); unset actions answer 400.
struct Fixture {
  absl::Time now = absl::FromCivil(absl::CivilSecond(2024, 5, 1, 12, 0, 0), absl::UTCTimeZone());
  std::vector<absl::Duration> sleeps;
  double random = 0.5;
  std::map<std::string,
           std::function<absl::StatusOr<HttpResponse>(const std::map<std::string, std::string>&)>>
      ec2;
  int imds_calls = 0;
  Credentials creds{"AKIDTEST", "secret", ""};

  std::shared_ptr<FakeHttpTransport> transport = std::make_shared<FakeHttpTransport>(
      [this](const HttpRequest& r) -> absl::StatusOr<HttpResponse> {
        if (absl::StartsWith(r.url, kImds)) {
          ++imds_calls;
          if (r.method == "PUT") return HttpResponse{200, "imds-token"};
          if (absl::EndsWith(r.url, "/instance-id"))
            return HttpResponse{200, "i-1234567890abcdef0"};
          return HttpResponse{404, ""};
        }
        auto fields = formFields(r.body);
        auto it = ec2.find(fields["Action"]);
        if (it == ec2.end()) return HttpResponse{400, errorXml("InvalidAction", "no handler")};
        return it->second(fields);
      });

  Clock clock() {
    return Clock{[this] { return now; },
                 [this](absl::Duration d) {
                   sleeps.push_back(d);
                   now += d;
                 },
                 [this] { return random; }};
  }

  std::unique_ptr<Ec2Provider> provider(Ec2Options options = {}) {
    options.region = "eu-west-1";
    options.endpoint = kEndpoint;
    options.backoff_base = absl::Milliseconds(200);
    options.backoff_max = absl::Seconds(10);
    auto p = Ec2Provider::create(
        options, transport, std::make_shared<StaticCredentialSource>(creds),
        std::make_shared<ImdsClient>(transport, ImdsOptions{kImds}, clock()), clock());
    EXPECT_TRUE(p.ok()) << p.status();
    return *std::move(p);
  }

  // The bodies of the requests sent to EC2, in order.
  std::vector<std::string> bodies() const {
    std::vector<std::string> out;
    for (const HttpRequest& r : transport->requests()) {
      if (absl::StartsWith(r.url, kEndpoint)) out.push_back(r.body);
    }
    return out;
  }

  void answer(const std::string& action, int status, std::string body) {
    ec2[action] = [status, body](const auto&) { return HttpResponse{status, body}; };
  }
};

inline constexpr char kV[] = "Version=2016-11-15";

}  // namespace quasar::ipam::cloud::ec2test
