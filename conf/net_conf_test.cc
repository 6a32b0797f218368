#include "conf/net_conf.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace quasar::conf {
namespace {

using nlohmann::json;

TEST(NetConf, ParsesDefaultsAndCapabilities) {
  auto c = parseNetConf(json::parse(R"({
    "cniVersion": "1.1.0", "name": "quasar", "type": "quasar",
    "runtimeConfig": {"ips": ["10.244.1.9/24"], "mac": "0a:58:0a:f4:01:09"}
  })"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->socket, kDefaultCniSocket);
  EXPECT_EQ(c->mtu, 0);
  ASSERT_EQ(c->requested_ips.size(), 1u);
  EXPECT_EQ(c->requested_ips[0].toString(), "10.244.1.9");
  ASSERT_TRUE(c->requested_mac.has_value());
  EXPECT_EQ(macToString(*c->requested_mac), "0a:58:0a:f4:01:09");
  EXPECT_TRUE(c->prev_result.is_null());
}

TEST(PodMtuHint, RoundTripsAndRejectsWhatIsNotAnMtu) {
  char dir[] = "/tmp/quasar-mtu-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string sock = std::string(dir) + "/cni.sock";
  EXPECT_EQ(readPodMtuHint(sock), 0);  // missing
  ASSERT_TRUE(writePodMtuHint(sock, 1480).ok());
  EXPECT_EQ(readPodMtuHint(sock), 1480);
  for (const char* bad : {"", "abc\n", "1480x\n", "40\n", "70000\n"}) {
    FILE* f = std::fopen(podMtuFile(sock).c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(bad, f);
    std::fclose(f);
    EXPECT_EQ(readPodMtuHint(sock), 0) << "'" << bad << "'";
  }
  ::unlink(podMtuFile(sock).c_str());
  ::rmdir(dir);
}

TEST(NetConf, ErrorsNameTheField) {
  auto missing_name = parseNetConf(json::parse(R"({"cniVersion": "1.0.0"})"));
  ASSERT_FALSE(missing_name.ok());
  EXPECT_NE(missing_name.status().message().find("\"name\""), std::string::npos);

  auto bad_mtu = parseNetConf(json::parse(R"({"cniVersion": "1.0.0", "name": "n", "mtu": 100})"));
  ASSERT_FALSE(bad_mtu.ok());
  EXPECT_NE(bad_mtu.status().message().find("\"mtu\""), std::string::npos);

  auto bad_ip = parseNetConf(
      json::parse(R"({"cniVersion": "1.0.0", "name": "n", "runtimeConfig": {"ips": ["x"]}})"));
  ASSERT_FALSE(bad_ip.ok());
  EXPECT_NE(bad_ip.status().message().find("runtimeConfig.ips"), std::string::npos);

  auto relative_socket =
      parseNetConf(json::parse(R"({"cniVersion": "1.0.0", "name": "n", "socket": "q.sock"})"));
  EXPECT_FALSE(relative_socket.ok());
}

TEST(NetConf, ReadsValidAttachments) {
  auto c = parseNetConf(json::parse(R"({"cniVersion": "1.1.0", "name": "n",
    "cni.dev/valid-attachments": [{"containerID": "abc", "ifname": "eth0"}]})"));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->valid_attachments);
  ASSERT_EQ(c->valid_attachments->size(), 1u);
  EXPECT_EQ((*c->valid_attachments)[0], (Attachment{"abc", "eth0"}));
  // Absent and empty differ: GC refuses the first and releases everything for the second.
  auto absent = parseNetConf(json::parse(R"({"cniVersion": "1.1.0", "name": "n"})"));
  ASSERT_TRUE(absent.ok()) << absent.status();
  EXPECT_FALSE(absent->valid_attachments);
  auto empty = parseNetConf(
      json::parse(R"({"cniVersion": "1.1.0", "name": "n", "cni.dev/valid-attachments": []})"));
  ASSERT_TRUE(empty.ok()) << empty.status();
  ASSERT_TRUE(empty->valid_attachments);
  EXPECT_TRUE(empty->valid_attachments->empty());
  EXPECT_FALSE(parseNetConf(json::parse(R"({"cniVersion": "1.1.0", "name": "n",
    "cni.dev/valid-attachments": [{"containerID": 5}]})"))
                   .ok());
}

TEST(Mac, RejectsMulticastAndGarbage) {
  EXPECT_FALSE(parseMac("01:00:5e:00:00:01").ok());
  EXPECT_FALSE(parseMac("0a:58:0a:f4:01").ok());
  EXPECT_FALSE(parseMac("0a:58:0a:f4:01:09:").ok());
  EXPECT_TRUE(parseMac("ee:ee:ee:ee:ee:ee").ok());
}

// The kernel refuses these only after quasard allocated the address; the config check is first.
TEST(NetConf, RuntimeMacMustBeAUnicastAddress) {
  for (const char* mac : {"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "33:33:00:00:00:01",
                          "01:00:5e:00:00:01", "0a:58:0a:f4:01:09:"}) {
    auto c =
        parseNetConf({{"cniVersion", "1.1.0"}, {"name", "n"}, {"runtimeConfig", {{"mac", mac}}}});
    ASSERT_FALSE(c.ok()) << mac;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << mac;
    EXPECT_NE(c.status().message().find("runtimeConfig.mac"), std::string::npos) << c.status();
  }
  auto c = parseNetConf(
      {{"cniVersion", "1.1.0"}, {"name", "n"}, {"runtimeConfig", {{"mac", "02:00:00:00:00:00"}}}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(macToString(*c->requested_mac), "02:00:00:00:00:00");
}

TEST(NetConf, DefaultRouteIsAutomaticUnlessSet) {
  auto automatic = parseNetConf({{"cniVersion", "1.1.0"}, {"name", "n"}});
  ASSERT_TRUE(automatic.ok()) << automatic.status();
  EXPECT_FALSE(automatic->default_route);
  for (bool v : {true, false}) {
    auto c = parseNetConf({{"cniVersion", "1.1.0"}, {"name", "n"}, {"defaultRoute", v}});
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->default_route, v);
  }
  auto bad = parseNetConf({{"cniVersion", "1.1.0"}, {"name", "n"}, {"defaultRoute", "yes"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("defaultRoute"), std::string::npos);
}

}  // namespace
}  // namespace quasar::conf
