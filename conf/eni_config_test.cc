#include "conf/eni_config.h"

#include <gtest/gtest.h>

#include "conf/daemon_config.h"

namespace quasar::conf {
namespace {

TEST(EniConfig, AbsentMeansOffAndDefaultsAreAwsLike) {
  auto off = parseDaemonConfig("podCIDRs: [10.0.0.0/24]\n");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->eni.has_value());

  auto on = parseDaemonConfig("podCIDRs: [10.0.0.0/24]\neni: {}\n");
  ASSERT_TRUE(on.ok()) << on.status();
  ASSERT_TRUE(on->eni.has_value());
  EXPECT_EQ(on->eni->warm_eni_target, 1);
  EXPECT_EQ(on->eni->warm_ip_target, 0);
  EXPECT_EQ(on->eni->max_pods_formula, "aws");
  EXPECT_EQ(on->eni->max_pods, 0);
  EXPECT_EQ(on->eni->imds_endpoint, "http://169.254.169.254");
  EXPECT_EQ(on->eni->untouchable_tag_keys, std::vector<std::string>{"quasar.io/no-pods"});
}

TEST(EniConfig, ParsesEveryField) {
  auto c = parseDaemonConfig(R"(
podCIDRs: [10.0.0.0/24]
eni:
  nodeSelector: {nvidia.com/gpu.present: "true"}
  ec2Endpoint: http://10.250.0.1:8080
  imdsEndpoint: http://10.250.0.1:8081
  region: us-sim-1
  subnet: subnet-b
  securityGroups: [sg-1, sg-2]
  warmIPTarget: 3
  minimumIPTarget: 5
  warmENITarget: 0
  maxPodsFormula: primary-reserved
  maxPods: 110
  surplusCooldownSeconds: 2
  refillSeconds: 0.5
  usableTag: {team: gpu}
  untouchableTagKeys: [rdma, efa-owner]
)");
  ASSERT_TRUE(c.ok()) << c.status();
  const EniConfig& e = *c->eni;
  EXPECT_EQ(e.node_selector.at("nvidia.com/gpu.present"), "true");
  EXPECT_EQ(e.ec2_endpoint, "http://10.250.0.1:8080");
  EXPECT_EQ(e.imds_endpoint, "http://10.250.0.1:8081");
  EXPECT_EQ(e.region, "us-sim-1");
  EXPECT_EQ(e.subnet, "subnet-b");
  EXPECT_EQ(e.security_groups, (std::vector<std::string>{"sg-1", "sg-2"}));
  EXPECT_EQ(e.warm_ip_target, 3);
  EXPECT_EQ(e.minimum_ip_target, 5);
  EXPECT_EQ(e.warm_eni_target, 0);
  EXPECT_EQ(e.max_pods_formula, "primary-reserved");
  EXPECT_EQ(e.max_pods, 110);
  EXPECT_EQ(e.surplus_cooldown, std::chrono::seconds(2));
  EXPECT_EQ(e.refill_interval, std::chrono::milliseconds(500));
  ASSERT_TRUE(e.usable_tag.has_value());
  EXPECT_EQ(e.usable_tag->first, "team");
  EXPECT_EQ(e.usable_tag->second, "gpu");
  EXPECT_EQ(e.untouchable_tag_keys, (std::vector<std::string>{"rdma", "efa-owner"}));
}

TEST(EniConfig, RejectsBadValuesNamingTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {"eni: [a]", "\"eni\""},
      {"eni: {warmIPTarget: -1}", "eni.warmIPTarget"},
      {"eni: {warmIPTarget: lots}", "\"eni\""},
      {"eni: {minimumIPTarget: 20000}", "eni.minimumIPTarget"},
      {"eni: {ec2Endpoint: ftp://x}", "eni.ec2Endpoint"},
      {"eni: {imdsEndpoint: \"\"}", "eni.imdsEndpoint"},
      {"eni: {usableTag: {a: b, c: d}}", "eni.usableTag"},
      {"eni: {usableTag: {\"\": b}}", "eni.usableTag"},
      {"eni: {nodeSelector: [x]}", "eni.nodeSelector"},
      {"eni: {refillSeconds: 0}", "eni.refillSeconds"},
      {"eni: {maxPodsFormula: terway}", "eni.maxPodsFormula"},
      {"eni: {maxPods: -3}", "eni.maxPods"},
      {"eni: {surplusCooldown: 3}", "eni.surplusCooldown"},
  };
  for (const auto& [yaml, field] : cases) {
    auto c = parseDaemonConfig(std::string("podCIDRs: [10.0.0.0/24]\n") + yaml + "\n");
    ASSERT_FALSE(c.ok()) << yaml;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << yaml;
    EXPECT_NE(c.status().message().find(field), std::string::npos)
        << yaml << ": " << c.status().message();
  }
}

TEST(EniConfig, NodeSelectorNeedsEveryLabel) {
  const std::map<std::string, std::string> gpu = {{"nvidia.com/gpu.present", "true"},
                                                  {"zone", "a"}};
  EXPECT_TRUE(selectsNode({}, {}));
  EXPECT_TRUE(selectsNode({{"nvidia.com/gpu.present", "true"}}, gpu));
  EXPECT_FALSE(selectsNode({{"nvidia.com/gpu.present", "false"}}, gpu));
  EXPECT_FALSE(selectsNode({{"nvidia.com/gpu.present", "true"}, {"zone", "b"}}, gpu));
  EXPECT_FALSE(selectsNode({{"rack", "1"}}, gpu));
}

}  // namespace
}  // namespace quasar::conf
