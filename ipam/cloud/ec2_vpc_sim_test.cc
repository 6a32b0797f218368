// Ec2Provider end to end against vpc-sim (the emulated VPC, docs/vpc-sim.md), wired as in
// production (Ec2Provider::create: libcurl, region and role credentials from IMDSv2) from inside
// an instance: the test's own network namespace is instance 1. vpc-sim verifies every
// signature with its own SigV4, so the two implementations check each other. Label netns:
// root, run by tests/in-netns.sh.

#include <gtest/gtest.h>

#include <cstdlib>

#include "ipam/cloud/ec2_provider.h"
#include "tests/testbed.h"
#include "tests/vpc_sim.h"

namespace quasar::ipam::cloud {
namespace {

using tests::VpcSim;

int g_beds = 0;

EnvLookup noEnvironment() {
  return [](const char*) -> std::optional<std::string> { return std::nullopt; };
}

class Ec2VpcSimTest : public ::testing::Test {
 protected:
  void SetUp() override { start(/*tls=*/false); }

  void start(bool tls) {
    const char* own = std::getenv("QUASAR_TEST_NETNS");
    ASSERT_NE(own, nullptr) << "run through tests/in-netns.sh";
    nlohmann::json config = VpcSim::exampleConfig(tests::bedPrefix(g_beds++));
    config["instances"][0]["netns"] = own;  // this process is instance 1
    config["instances"][0]["defaultRoute"] = false;
    sim_.reset();
    auto sim = VpcSim::start({config, tls, false});
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = *std::move(sim);
  }

  Ec2Options options() const {
    Ec2Options o;
    o.endpoint = sim_->endpoint(node1_);
    o.imds_endpoint = sim_->imdsEndpoint();
    o.backoff_base = absl::Milliseconds(20);
    o.backoff_max = absl::Milliseconds(200);
    return o;
  }

  std::unique_ptr<Ec2Provider> provider(Ec2Options o, EnvLookup env = noEnvironment()) {
    auto p = Ec2Provider::create(std::move(o), std::move(env));
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *std::move(p) : nullptr;
  }

  const std::string node1_ = VpcSim::instanceId(1);
  std::unique_ptr<VpcSim> sim_;
};

TEST_F(Ec2VpcSimTest, DescribesItsInstanceWithRegionAndCredentialsFromImds) {
  auto p = provider(options());
  ASSERT_NE(p, nullptr);
  auto inst = p->describeInstance();
  ASSERT_TRUE(inst.ok()) << inst.status() << "\n" << sim_->log();
  EXPECT_EQ(inst->id, node1_);
  EXPECT_EQ(inst->type, "sim.large");
  EXPECT_EQ(inst->availability_zone, "us-sim-1a");
  EXPECT_EQ(inst->subnet_id, "subnet-a");
  EXPECT_EQ(inst->security_groups, std::vector<std::string>{"sg-00000000000000001"});
  EXPECT_EQ(inst->limits.max_interfaces, 3);
  EXPECT_EQ(inst->limits.ipv4_per_interface, 4);
  auto subnet = p->describeSubnet("subnet-b");
  ASSERT_TRUE(subnet.ok()) << subnet.status();
  EXPECT_EQ(subnet->cidr.toString(), "10.30.2.0/24");
  EXPECT_EQ(p->describeSubnet("subnet-z").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(Ec2VpcSimTest, InterfaceLifecycleAndLimits) {
  auto p = provider(options());
  ASSERT_NE(p, nullptr);
  CreateInterfaceRequest req{"subnet-a", {}, "quasar test", {{kNodeTag, "node1"}}, "quasar-t-1"};
  auto eni = p->createInterface(req);
  ASSERT_TRUE(eni.ok()) << eni.status() << "\n" << sim_->log();
  EXPECT_EQ(eni->status, "available");
  EXPECT_EQ(eni->tags.at(kNodeTag), "node1");
  auto again = p->createInterface(req);  // the same ClientToken: the same interface
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id, eni->id);

  auto att = p->attachInterface(eni->id, node1_, 1);
  ASSERT_TRUE(att.ok()) << att.status();
  auto attached = p->listInterfaces({node1_, std::nullopt});
  ASSERT_TRUE(attached.ok()) << attached.status();
  EXPECT_EQ(attached->size(), 2u);  // the primary and ours
  auto ours = p->listInterfaces({"", std::make_pair(std::string(kNodeTag), "node1")});
  ASSERT_TRUE(ours.ok()) << ours.status();
  ASSERT_EQ(ours->size(), 1u);
  EXPECT_EQ((*ours)[0].attachment_id, *att);
  EXPECT_EQ((*ours)[0].device_index, 1);

  // 4 IPv4 addresses per interface, the primary included.
  auto ips = p->assignPrivateIps(eni->id, 3);
  ASSERT_TRUE(ips.ok()) << ips.status();
  ASSERT_EQ(ips->size(), 3u);
  EXPECT_EQ(p->assignPrivateIps(eni->id, 1).status().code(), absl::StatusCode::kResourceExhausted);
  // One of its addresses and one it never had: the one it had goes, the call succeeds.
  const absl::Status unassigned =
      p->unassignPrivateIps(eni->id, {(*ips)[0], *conf::IpAddress::parse("10.30.1.250")});
  ASSERT_TRUE(unassigned.ok()) << unassigned;
  auto after = p->listInterfaces({"", std::make_pair(std::string(kNodeTag), "node1")});
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ((*after)[0].secondary_ips, (std::vector<conf::IpAddress>{(*ips)[1], (*ips)[2]}));

  // 3 interfaces per instance, the primary included.
  auto second = p->createInterface({"subnet-a", {}, "", {}, "quasar-t-2"});
  auto third = p->createInterface({"subnet-a", {}, "", {}, "quasar-t-3"});
  ASSERT_TRUE(second.ok() && third.ok());
  ASSERT_TRUE(p->attachInterface(second->id, node1_, 2).ok());
  EXPECT_EQ(p->attachInterface(third->id, node1_, 3).status().code(),
            absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(p->tagInterface(third->id, {{"team", "net"}}).ok());

  EXPECT_EQ(p->deleteInterface(eni->id).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(p->detachInterface(*att, /*force=*/false).ok());
  ASSERT_TRUE(p->deleteInterface(eni->id).ok());
  EXPECT_EQ(p->deleteInterface(eni->id).code(), absl::StatusCode::kNotFound);
}

TEST_F(Ec2VpcSimTest, ThrottlingIsRetriedUntilTheDeadline) {
  Ec2Options o = options();
  o.deadline = absl::Seconds(2);
  auto p = provider(o);
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(sim_->resetCalls().ok());
  ASSERT_TRUE(sim_->throttleNext(2, "DescribeSubnets").ok());
  EXPECT_TRUE(p->describeSubnet("subnet-a").ok());
  EXPECT_EQ(*sim_->callCount("DescribeSubnets"), 3);

  ASSERT_TRUE(sim_->throttleAlways("DescribeSubnets").ok());
  const absl::Time t0 = absl::Now();
  auto throttled = p->describeSubnet("subnet-a");
  EXPECT_EQ(throttled.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(throttled.status().message().find("RequestLimitExceeded"), absl::string_view::npos)
      << throttled.status();
  EXPECT_LT(absl::Now() - t0, absl::Seconds(3));
  EXPECT_GT(*sim_->callCount("DescribeSubnets"), 4);
  ASSERT_TRUE(sim_->clearThrottle().ok());
}

TEST_F(Ec2VpcSimTest, WrongKeysFromTheEnvironmentAreRefused) {
  auto p = provider(options(), [](const char* name) -> std::optional<std::string> {
    if (std::string(name) == "AWS_ACCESS_KEY_ID") return VpcSim::kAccessKey;
    if (std::string(name) == "AWS_SECRET_ACCESS_KEY") return "not-the-secret";
    if (std::string(name) == "AWS_SESSION_TOKEN") return VpcSim::kSessionToken;
    return std::nullopt;
  });
  ASSERT_NE(p, nullptr);
  auto subnet = p->describeSubnet("subnet-a");
  EXPECT_EQ(subnet.status().code(), absl::StatusCode::kPermissionDenied) << subnet.status();
  EXPECT_NE(subnet.status().message().find("SignatureDoesNotMatch"), absl::string_view::npos)
      << subnet.status();
}

TEST_F(Ec2VpcSimTest, HttpsWithTheConfiguredCaFile) {
  start(/*tls=*/true);
  Ec2Options o = options();
  ASSERT_EQ(o.endpoint.rfind("https://", 0), 0u);
  o.ca_file = sim_->caCert();
  auto p = provider(o);
  ASSERT_NE(p, nullptr);
  auto subnet = p->describeSubnet("subnet-a");
  EXPECT_TRUE(subnet.ok()) << subnet.status();

  // Without it, the self-signed certificate is not trusted; that is not retried.
  auto q = provider(options());
  ASSERT_NE(q, nullptr);
  ASSERT_TRUE(sim_->resetCalls().ok());
  auto untrusted = q->describeSubnet("subnet-a");
  EXPECT_EQ(untrusted.status().code(), absl::StatusCode::kFailedPrecondition) << untrusted.status();
  EXPECT_EQ(*sim_->callCount("DescribeSubnets"), 0);
}

}  // namespace
}  // namespace quasar::ipam::cloud
