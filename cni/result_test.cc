#include "cni/result.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "cni/errors.h"

namespace quasar::cni {
namespace {

using nlohmann::json;

Result sample() {
  Result r;
  r.interfaces.push_back({"qsr0123456789a", "ee:ee:ee:ee:ee:ee", 1480, ""});
  r.interfaces.push_back({"eth0", "0a:58:0a:f4:01:05", 1480, "/run/netns/p"});
  r.ips.push_back(
      {*conf::IpPrefix::parse("10.244.1.5/32"), *conf::IpAddress::parse("169.254.1.1"), 1});
  r.routes.push_back({*conf::IpPrefix::parse("0.0.0.0/0"), *conf::IpAddress::parse("169.254.1.1")});
  return r;
}

TEST(Result, Renders030WithIpVersionAndNoMtu) {
  const json j = renderResult(sample(), "0.3.0");
  EXPECT_EQ(j["cniVersion"], "0.3.0");
  EXPECT_EQ(j["ips"][0]["version"], "4");
  EXPECT_EQ(j["ips"][0]["address"], "10.244.1.5/32");
  EXPECT_EQ(j["ips"][0]["interface"], 1);
  EXPECT_FALSE(j["interfaces"][1].contains("mtu"));
  EXPECT_EQ(j["interfaces"][1]["sandbox"], "/run/netns/p");
}

TEST(Result, Renders100WithoutIpVersion) {
  const json j = renderResult(sample(), "1.0.0");
  EXPECT_FALSE(j["ips"][0].contains("version"));
  EXPECT_EQ(j["ips"][0]["gateway"], "169.254.1.1");
  EXPECT_FALSE(j["interfaces"][1].contains("mtu"));
  EXPECT_EQ(j["routes"][0]["dst"], "0.0.0.0/0");
}

TEST(Result, Renders110WithInterfaceMtu) {
  const json j = renderResult(sample(), "1.1.0");
  EXPECT_EQ(j["interfaces"][1]["mtu"], 1480);
  EXPECT_FALSE(j["interfaces"][0].contains("sandbox"));
}

TEST(Result, EveryVersionRoundTripsThroughParse) {
  for (const auto& v : supportedVersions()) {
    auto back = parseResult(renderResult(sample(), v));
    ASSERT_TRUE(back.ok()) << v << ": " << back.status();
    EXPECT_EQ(back->ips.size(), 1u);
    EXPECT_EQ(back->ips[0].address.toString(), "10.244.1.5/32");
    EXPECT_EQ(back->interfaces.size(), 2u);
  }
}

TEST(Result, AppendShiftsInterfaceIndices) {
  Result prev;
  prev.interfaces.push_back({"dummy0", "", std::nullopt, ""});
  prev.dns = {{"nameservers", {"10.96.0.10"}}};
  prev.append(sample());
  ASSERT_EQ(prev.interfaces.size(), 3u);
  EXPECT_EQ(*prev.ips[0].interface, 2);
  EXPECT_EQ(prev.dns["nameservers"][0], "10.96.0.10");
}

TEST(Result, ParseRejectsMalformed) {
  EXPECT_FALSE(parseResult(json::parse(R"({"ips": [{"address": "nope"}]})")).ok());
  EXPECT_FALSE(parseResult(json::parse(R"({"interfaces": [{}]})")).ok());
  EXPECT_FALSE(parseResult(json::parse(R"([1])")).ok());
}

TEST(Result, VersionsAreOrderedAndCurrentIs110) {
  EXPECT_EQ(supportedVersions().back(), "1.1.0");
  EXPECT_TRUE(isSupportedVersion("0.3.1"));
  EXPECT_FALSE(isSupportedVersion("0.2.0"));
}

// As the reference plugin framework (skel) does: CHECK arrived in 0.4.0, GC and STATUS in 1.1.0.
TEST(Result, CommandsNewerThanTheConfigVersionAreCode1) {
  for (const auto& [command, first] : std::vector<std::pair<std::string, std::string>>{
           {"CHECK", "0.4.0"}, {"GC", "1.1.0"}, {"STATUS", "1.1.0"}}) {
    for (const auto& v : supportedVersions()) {
      const absl::Status s = commandAllowedIn(command, v);
      EXPECT_EQ(s.ok(), v >= first) << command << " " << v;
      if (!s.ok()) {
        EXPECT_EQ(codeFor(s), kIncompatibleVersion) << command << " " << v;
        EXPECT_NE(s.message().find(command), std::string::npos) << s;
      }
    }
  }
  for (const char* command : {"ADD", "DEL", "VERSION"}) {
    EXPECT_TRUE(commandAllowedIn(command, "0.3.0").ok()) << command;
  }
}

}  // namespace
}  // namespace quasar::cni
