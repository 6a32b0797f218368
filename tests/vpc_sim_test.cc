// vpc-sim, the emulated VPC (docs/vpc-sim.md), through its fixture (tests/vpc_sim.h): EC2 calls
// signed by curl's own SigV4 from inside an instance's namespace, IMDSv2, the links and routes it
// makes real, the source/destination check, and the test controls. Label netns: root, run in a
// namespace of its own by tests/in-netns.sh.

#include "tests/vpc_sim.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "tests/eventually.h"
#include "tests/spawn.h"
#include "tests/testbed.h"

namespace quasar::tests {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

int g_beds = 0;

class VpcSimTest : public ::testing::Test {
 protected:
  void SetUp() override { startSim(VpcSim::exampleConfig(bedPrefix(g_beds++))); }

  void startSim(json config, bool tls = false) {
    auto s = VpcSim::start({std::move(config), tls, false});
    ASSERT_TRUE(s.ok()) << s.status();
    sim_ = std::move(*s);
  }

  // The body of a call that must succeed.
  std::string ok(const std::string& params, const std::string& instance = VpcSim::instanceId(1)) {
    auto r = sim_->ec2(instance, params);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return "";
    EXPECT_EQ(r->status, 200) << params << "\n" << r->body;
    return r->body;
  }
  // The EC2 error code of a call that must fail with `http_status`.
  std::string errorCode(const std::string& params, long http_status,
                        const VpcSim::Credentials& creds = VpcSim::Credentials{}) {
    auto r = sim_->ec2(VpcSim::instanceId(1), params, creds);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return "";
    EXPECT_EQ(r->status, http_status) << params << "\n" << r->body;
    EXPECT_NE(r->body.find("<Response><Errors><Error><Code>"), std::string::npos) << r->body;
    return VpcSim::xmlValue(r->body, "Code");
  }

  std::string createEni(const std::string& extra = "") {
    return VpcSim::xmlValue(ok("Action=CreateNetworkInterface&SubnetId=subnet-a" + extra),
                            "networkInterfaceId");
  }
  std::string attach(const std::string& eni, int index,
                     const std::string& instance = VpcSim::instanceId(1)) {
    return VpcSim::xmlValue(ok("Action=AttachNetworkInterface&NetworkInterfaceId=" + eni +
                               "&InstanceId=" + instance + "&DeviceIndex=" + std::to_string(index)),
                            "attachmentId");
  }
  json interfaceState(const std::string& eni) {
    auto s = sim_->state();
    EXPECT_TRUE(s.ok()) << s.status();
    if (s.ok()) {
      for (const auto& i : (*s)["interfaces"]) {
        if (i["id"] == eni) return i;
      }
    }
    return nullptr;
  }
  // `ip -j link show dev <ifname>` in `ns`: the link, or null when there is none.
  json link(const std::string& ns, const std::string& ifname) {
    CmdResult r = run({"ip", "-n", ns, "-j", "link", "show", "dev", ifname});
    json j = json::parse(r.out, nullptr, false);
    return r.exit_code == 0 && j.is_array() && !j.empty() ? j[0] : json(nullptr);
  }
  long fromInstancePackets(const std::string& eni) {
    auto c = sim_->counters();
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? (*c)["interfaces"][eni]["fromInstance"].value("packets", -1L) : -1;
  }

  std::unique_ptr<VpcSim> sim_;
  const std::string node1_ = VpcSim::instanceId(1);
};

TEST_F(VpcSimTest, AnswersASignedRequestAndRefusesBadSignatures) {
  const std::string body = ok("Action=DescribeInstances");
  EXPECT_NE(body.find("<instanceId>" + node1_ + "</instanceId>"), std::string::npos) << body;
  EXPECT_NE(body.find("xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\""), std::string::npos);

  VpcSim::Credentials wrong_secret;
  wrong_secret.secret_key = "not-the-secret";
  EXPECT_EQ(errorCode("Action=DescribeInstances", 403, wrong_secret), "SignatureDoesNotMatch");
  VpcSim::Credentials unknown_key;
  unknown_key.access_key = "AKIDNOSUCHKEY0000000";
  EXPECT_EQ(errorCode("Action=DescribeInstances", 401, unknown_key), "AuthFailure");
  VpcSim::Credentials stale_token;
  stale_token.session_token = "stale";
  EXPECT_EQ(errorCode("Action=DescribeInstances", 401, stale_token), "AuthFailure");
  EXPECT_EQ(errorCode("Action=RunInstances", 400), "InvalidAction");
}

TEST_F(VpcSimTest, ImdsV2NeedsATokenAndKnowsTheCaller) {
  const std::string ns = sim_->instanceNs(node1_), imds = sim_->imdsEndpoint();
  CmdResult r = run({"ip", "netns", "exec", ns, "curl", "-s", "-o", "/dev/null", "-w",
                     "%{http_code}", imds + "/latest/meta-data/instance-id"});
  EXPECT_EQ(r.out, "401");
  const std::string token =
      run({"ip", "netns", "exec", ns, "curl", "-sf", "-X", "PUT", "-H",
           "X-aws-ec2-metadata-token-ttl-seconds: 60", imds + "/latest/api/token"})
          .out;
  ASSERT_FALSE(token.empty());
  auto get = [&](const std::string& ins, const std::string& path) {
    return run({"ip", "netns", "exec", ins, "curl", "-s", "-H",
                "X-aws-ec2-metadata-token: " + token, imds + "/latest/meta-data/" + path})
        .out;
  };
  EXPECT_EQ(get(ns, "instance-id"), node1_);
  EXPECT_EQ(get(ns, "placement/region"), VpcSim::kRegion);
  EXPECT_EQ(get(ns, "placement/availability-zone"), "us-sim-1a");
  EXPECT_EQ(get(ns, "iam/security-credentials/"), "quasar-node");
  EXPECT_NE(get(ns, "iam/security-credentials/quasar-node").find(VpcSim::kSecretKey),
            std::string::npos);
  // The token is node 1's: node 2 (another instance's metadata service) refuses it.
  EXPECT_EQ(get(sim_->instanceNs(VpcSim::instanceId(2)), "instance-id"), "Unauthorized\n");
}

TEST_F(VpcSimTest, AttachMakesALinkWithTheInterfacesMacAndDetachRemovesIt) {
  const std::string created = ok("Action=CreateNetworkInterface&SubnetId=subnet-a");
  const std::string eni = VpcSim::xmlValue(created, "networkInterfaceId");
  const std::string mac = VpcSim::xmlValue(created, "macAddress");
  ASSERT_FALSE(eni.empty());
  const std::string ns = sim_->instanceNs(node1_);
  EXPECT_TRUE(link(ns, "eth1").is_null());
  const std::string attachment = attach(eni, 1);
  ASSERT_FALSE(attachment.empty());
  json l = link(ns, "eth1");
  ASSERT_FALSE(l.is_null());
  EXPECT_EQ(l["address"], mac);
  EXPECT_EQ(l["operstate"], "DOWN");  // configuring it is the node's job
  EXPECT_EQ(interfaceState(eni)["attachment"]["deviceIndex"], 1);

  ok("Action=DetachNetworkInterface&AttachmentId=" + attachment);
  EXPECT_TRUE(link(ns, "eth1").is_null());
  ok("Action=DeleteNetworkInterface&NetworkInterfaceId=" + eni);
  EXPECT_TRUE(interfaceState(eni).is_null());
}

TEST_F(VpcSimTest, LimitsAnswerEc2sCodes) {
  // sim.large: 3 interfaces (the primary included), 4 IPv4 addresses each.
  const std::string a = createEni(), b = createEni(), c = createEni();
  attach(a, 1);
  attach(b, 2);
  EXPECT_EQ(errorCode("Action=AttachNetworkInterface&NetworkInterfaceId=" + c +
                          "&InstanceId=" + node1_ + "&DeviceIndex=3",
                      400),
            "AttachmentLimitExceeded");
  ok("Action=AssignPrivateIpAddresses&NetworkInterfaceId=" + a +
     "&SecondaryPrivateIpAddressCount=3");
  EXPECT_EQ(errorCode("Action=AssignPrivateIpAddresses&NetworkInterfaceId=" + a +
                          "&SecondaryPrivateIpAddressCount=1",
                      400),
            "PrivateIpAddressLimitExceeded");
  EXPECT_EQ(interfaceState(a)["secondaryIps"].size(), 3u);
}

TEST_F(VpcSimTest, SecondaryAddressIsRoutedAndAWrongWayReplyIsDropped) {
  const std::string eni = createEni();
  attach(eni, 1);
  const std::string ip =
      VpcSim::xmlValue(ok("Action=AssignPrivateIpAddresses&NetworkInterfaceId=" + eni +
                          "&SecondaryPrivateIpAddressCount=1"),
                       "privateIpAddress");
  ASSERT_FALSE(ip.empty());
  // What quasard's data path will do, by hand: the address on eth1, replies from it out eth1.
  const std::string ns = sim_->instanceNs(node1_);
  CmdResult setup = sh("ip netns exec " + ns +
                       " sh -ec 'sysctl -qw net.ipv4.conf.all.rp_filter=0"
                       " net.ipv4.conf.eth1.rp_filter=0; ip link set eth1 up;"
                       " ip addr add " +
                       ip +
                       "/32 dev eth1;"
                       " ip route add default via 10.30.1.1 dev eth1 onlink table 101;"
                       " ip rule add from " +
                       ip + " lookup 101 pref 100'");
  ASSERT_EQ(setup.exit_code, 0) << setup.err;
  const std::string host = sim_->vpcHostNs("host");
  const long before = fromInstancePackets(eni);
  CmdResult ping = sh("ip netns exec " + host + " ping -c1 -W5 " + ip);
  EXPECT_EQ(ping.exit_code, 0) << ping.out << ping.err;
  EXPECT_GT(fromInstancePackets(eni), before);  // the reply left by eth1

  // Without the rule the reply leaves by eth0, whose interface does not own the address: the
  // router drops it (EC2's source/destination check), which its counter shows.
  auto drops = sim_->rpFilterDrops();
  ASSERT_TRUE(drops.ok()) << drops.status();
  ASSERT_EQ(sh("ip -n " + ns + " rule del from " + ip + " lookup 101 pref 100").exit_code, 0);
  EXPECT_NE(sh("ip netns exec " + host + " ping -c1 -W2 " + ip).exit_code, 0);
  EXPECT_TRUE(eventually([&] {
    auto now = sim_->rpFilterDrops();
    return now.ok() && *now > *drops;
  }));
}

TEST_F(VpcSimTest, InjectedThrottlingAnswers503RequestLimitExceeded) {
  ASSERT_TRUE(sim_->throttleNext(2, "DescribeSubnets").ok());
  EXPECT_EQ(errorCode("Action=DescribeSubnets", 503), "RequestLimitExceeded");
  ok("Action=DescribeInstances");  // another action is not throttled
  EXPECT_EQ(errorCode("Action=DescribeSubnets", 503), "RequestLimitExceeded");
  EXPECT_NE(ok("Action=DescribeSubnets").find("<subnetId>subnet-a</subnetId>"), std::string::npos);
  EXPECT_EQ(*sim_->callCount("DescribeSubnets", node1_), 3);
  EXPECT_EQ((*sim_->calls())["throttled"]["DescribeSubnets"], 2);

  ASSERT_TRUE(sim_->throttleAlways("CreateNetworkInterface").ok());
  EXPECT_EQ(errorCode("Action=CreateNetworkInterface&SubnetId=subnet-a", 503),
            "RequestLimitExceeded");
  ASSERT_TRUE(sim_->clearThrottle().ok());
  EXPECT_FALSE(createEni().empty());
}

TEST_F(VpcSimTest, ClientTokenMakesCreateIdempotent) {
  const std::string a = createEni("&ClientToken=quasar-1");
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(createEni("&ClientToken=quasar-1"), a);
  EXPECT_NE(createEni("&ClientToken=quasar-2"), a);
  EXPECT_EQ((*sim_->state())["interfaces"].size(), 4u);  // 2 primaries + 2
}

TEST_F(VpcSimTest, AHeldAttachTakesEffectAfterItsCallerWasKilled) {
  const std::string eni = createEni();
  auto hold = sim_->holdNext("AttachNetworkInterface", VpcSim::Phase::kBefore);
  ASSERT_TRUE(hold.ok()) << hold.status();
  const pid_t caller = spawnBackground(
      sim_->ec2Argv(node1_, "Action=AttachNetworkInterface&NetworkInterfaceId=" + eni +
                                "&InstanceId=" + node1_ + "&DeviceIndex=1"),
      sim_->dir() + "/caller.log");
  ASSERT_GT(caller, 0);
  auto waited = sim_->waitForCalls("AttachNetworkInterface", 1, 20s);
  EXPECT_TRUE(waited.ok()) << waited.status();
  auto call = sim_->waitHeld(*hold, 20s);
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_EQ((*call)["caller"], node1_);
  EXPECT_EQ((*call)["params"]["NetworkInterfaceId"], eni);
  EXPECT_TRUE(interfaceState(eni)["attachment"].is_null());  // held before it took effect

  kill(caller, SIGKILL);
  waitpid(caller, nullptr, 0);
  ASSERT_TRUE(sim_->release(*hold).ok());
  EXPECT_TRUE(eventually([&] { return !interfaceState(eni)["attachment"].is_null(); }));
  EXPECT_FALSE(link(sim_->instanceNs(node1_), "eth1").is_null());
}

TEST_F(VpcSimTest, InjectedLatencyDelaysTheAnswer) {
  ASSERT_TRUE(sim_->setLatency(300, "DescribeSubnets").ok());
  const auto t0 = std::chrono::steady_clock::now();
  ok("Action=DescribeSubnets");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
  ASSERT_TRUE(sim_->setLatency(0, "DescribeSubnets").ok());
}

TEST_F(VpcSimTest, ServesHttpsWithItsCertificate) {
  sim_.reset();
  startSim(VpcSim::exampleConfig(bedPrefix(g_beds++)), /*tls=*/true);
  EXPECT_EQ(sim_->endpoint(node1_).rfind("https://10.30.1.1:", 0), 0u);
  EXPECT_NE(ok("Action=DescribeSubnets").find("<cidrBlock>10.30.2.0/24</cidrBlock>"),
            std::string::npos);
}

// An existing namespace (the test's own) can be an instance: it is neither made nor deleted,
// only its interface is. Everything else is gone after stop().
TEST_F(VpcSimTest, StopRemovesWhatItMadeAndKeepsAnExistingNamespace) {
  const char* own = getenv("QUASAR_TEST_NETNS");
  ASSERT_NE(own, nullptr) << "run through tests/in-netns.sh";
  sim_.reset();
  json config = VpcSim::exampleConfig(bedPrefix(g_beds++));
  config["instances"][1]["netns"] = own;
  config["instances"][1]["defaultRoute"] = false;  // routes to the VPC and IMDS only
  startSim(config);
  const std::string node2 = VpcSim::instanceId(2);
  EXPECT_NE(ok("Action=DescribeInstances", node2).find(node2), std::string::npos);
  EXPECT_FALSE(link(own, "eth0").is_null());
  EXPECT_EQ(run({"ip", "-n", own, "route", "show", "default"}).out, "");
  EXPECT_EQ(run({"curl", "-s", "-X", "PUT", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60", "-o",
                 "/dev/null", "-w", "%{http_code}", sim_->imdsEndpoint() + "/latest/api/token"})
                .out,
            "200");  // from the test process itself: its namespace is the instance

  ASSERT_TRUE(sim_->stop().ok()) << sim_->log();
  EXPECT_TRUE(std::filesystem::exists(std::string("/run/netns/") + own));
  EXPECT_TRUE(link(own, "eth0").is_null());
  for (const std::string& ns :
       {sim_->routerNs(), sim_->instanceNs(node1_), sim_->vpcHostNs("host")}) {
    EXPECT_FALSE(std::filesystem::exists("/run/netns/" + ns)) << ns;
  }
}

}  // namespace
}  // namespace quasar::tests
