// End-to-end tests of ENI multi-IP IPAM (issue 15, docs/eni.md) against vpc-sim, the emulated
// VPC (tests/vpc/, docs/vpc-sim.md; a stand-in for EC2, which nothing here can reach). Real
// quasard in each instance's namespace with its production EC2 client (SigV4, IMDSv2 for region
// and credentials), the real plugin, real links: vpc-sim attaches an ENI as a veth into the
// instance and routes each assigned secondary address to it, dropping packets that leave by an
// interface that does not own their source (EC2's source/destination check). Label netns.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/eventually.h"
#include "tests/testbed.h"
#include "tests/vpc_sim.h"

namespace quasar::tests {
namespace {

using nlohmann::json;

struct EniSettings {
  int warm_ip_target = 0;
  int minimum_ip_target = 0;
  int warm_eni_target = 0;
  std::string more = "";    // more lines for the eni section, two spaces in
  std::string labels = "";  // the node's labels in the config, e.g. "{gpu: \"true\"}"
};

class EniE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sim = VpcSim::start({VpcSim::exampleConfig(bedPrefix(90), 2)});
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = std::move(*sim);
  }

  // A quasard in instance `n`'s namespace (1-based), in ENI mode with `eni`.
  Testbed& node(int n, EniSettings eni, bool start = true) {
    Testbed::Options o;
    o.node_ns = sim_->instanceNs(VpcSim::instanceId(n));
    o.uplink = false;
    o.cooldown_seconds = 0;
    o.extra_config = "routingMode: host-gw\nnetworkPolicy: false\neni:\n  ec2Endpoint: " +
                     sim_->endpoint(VpcSim::instanceId(n)) +
                     "\n  imdsEndpoint: " + sim_->imdsEndpoint() +
                     "\n  refillSeconds: 0.2\n  surplusCooldownSeconds: 1\n  warmIPTarget: " +
                     std::to_string(eni.warm_ip_target) +
                     "\n  minimumIPTarget: " + std::to_string(eni.minimum_ip_target) +
                     "\n  warmENITarget: " + std::to_string(eni.warm_eni_target) + "\n" + eni.more +
                     (eni.labels.empty() ? "" : "labels: " + eni.labels + "\n");
    beds_[n] = std::make_unique<Testbed>(o);
    if (start) beds_[n]->startDaemon();
    return *beds_[n];
  }

  static json eniStatus(Testbed& bed) {
    auto r = bed.ctl("status -o json");
    if (r.exit_code != 0) return json();
    auto j = r.json();
    return j.is_object() && j.contains("eni") ? j["eni"] : json();
  }

  static CmdResult add(Testbed& bed, const std::string& pod) {
    bed.addPod(pod);
    return bed.cni("ADD", "c-" + pod, pod, bed.netConf());
  }

  // The vpc-sim interfaces attached to instance `n`.
  std::vector<json> attached(int n) {
    std::vector<json> out;
    auto st = sim_->state();
    if (!st.ok()) return out;
    for (const auto& i : (*st)["interfaces"]) {
      if (!i["attachment"].is_null() && i["attachment"]["instanceId"] == VpcSim::instanceId(n)) {
        out.push_back(i);
      }
    }
    return out;
  }

  // Every interface quasar attached to instance `n` is deleted with the instance (the refill
  // marks it after the attach); at least one is attached.
  bool quasarsGoWithTheInstance(int n) {
    int ours = 0;
    for (const auto& i : attached(n)) {
      if (!i["tags"].contains("quasar.io/node")) continue;
      ++ours;
      if (i["attachment"]["deleteOnTermination"] != true) return false;
    }
    return ours > 0;
  }

  // The interface (as vpc-sim sees it) holding `ip` as a secondary address; null when none.
  json ownerOf(const std::string& ip) {
    auto st = sim_->state();
    if (!st.ok()) return json();
    for (const auto& i : (*st)["interfaces"]) {
      for (const auto& s : i["secondaryIps"]) {
        if (s == ip) return i;
      }
    }
    return json();
  }

  bool ping(Testbed& bed, const std::string& ns, const std::string& ip) {
    return bed.inNs(ns, "ping -c 1 -W 2 " + ip).exit_code == 0;
  }

  // Every secondary address of the instance's interfaces is either a pod's (quasarctl list) or
  // free/cooling in quasard's pool, and every pod's address is assigned to one of them.
  void expectCloudAndStoreAgree(int n) {
    Testbed& bed = *beds_[n];
    std::set<std::string> cloud;
    for (const auto& i : attached(n)) {
      for (const auto& s : i["secondaryIps"]) cloud.insert(s.get<std::string>());
    }
    std::set<std::string> pods;
    for (const auto& a : bed.allocations()) {
      for (const auto& ip : a["ips"]) {
        std::string text = ip.get<std::string>();
        pods.insert(text.substr(0, text.find('/')));
      }
    }
    for (const auto& ip : pods) EXPECT_TRUE(cloud.count(ip)) << ip << " is no ENI's address";
    const json s = eniStatus(bed);
    ASSERT_TRUE(s.is_object());
    EXPECT_EQ(s["addresses"]["assigned"].get<size_t>(), cloud.size()) << s.dump();
    EXPECT_EQ(s["addresses"]["used"].get<size_t>(), pods.size()) << s.dump();
    EXPECT_TRUE(s["lost"].empty()) << s.dump();
  }

  std::unique_ptr<VpcSim> sim_;
  std::map<int, std::unique_ptr<Testbed>> beds_;
};

TEST_F(EniE2E, PodsOnTwoNodesReachEachOtherAndTheVpcByTheirOwnEni) {
  // sim.large: 3 interfaces x 4 addresses. Five pods per node: three on the primary
  // interface's secondaries, two on the interface quasard creates and attaches.
  std::map<int, std::vector<std::string>> ips;
  for (int n : {1, 2}) {
    Testbed& bed = node(n, {});
    for (int p = 0; p < 5; ++p) {
      auto r = add(bed, "p" + std::to_string(p));
      ASSERT_EQ(r.exit_code, 0) << r.out << r.err << bed.daemonLog();
      ips[n].push_back(podIpOf(r));
    }
    // Two, or rarely three: a cold ADD that finds no room while the refill's assignment is in
    // flight attaches another interface (given back later as surplus).
    ASSERT_GE(attached(n).size(), 2u) << sim_->state()->dump() << bed.daemonLog();
    EXPECT_TRUE(eventually([&] { return quasarsGoWithTheInstance(n); }))
        << sim_->state()->dump() << bed.daemonLog();
  }
  std::set<std::string> all;
  for (const auto& [n, v] : ips) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 10u) << "an address was handed out twice";

  const auto drops_before = sim_->rpFilterDrops();
  ASSERT_TRUE(drops_before.ok()) << drops_before.status();
  const std::string host = "10.30.2.50";
  for (int n : {1, 2}) {
    Testbed& bed = *beds_[n];
    for (size_t p = 0; p < ips[n].size(); ++p) {
      const std::string pod_ns = bed.podNs("p" + std::to_string(p));
      const json owner = ownerOf(ips[n][p]);
      ASSERT_TRUE(owner.is_object()) << ips[n][p] << " is assigned to no interface";
      EXPECT_EQ(owner["attachment"]["instanceId"], VpcSim::instanceId(n));
      auto before = sim_->counters();
      ASSERT_TRUE(before.ok());
      const std::string id = owner["id"];
      const long sent_before = (*before)["interfaces"][id]["fromInstance"]["packets"];
      // The VPC host and every pod of the other node, directly: no encapsulation, no NAT.
      EXPECT_TRUE(ping(bed, pod_ns, host)) << ips[n][p] << " -> host";
      for (const auto& peer : ips[3 - n]) {
        EXPECT_TRUE(ping(bed, pod_ns, peer)) << ips[n][p] << " -> " << peer;
      }
      auto after = sim_->counters();
      ASSERT_TRUE(after.ok());
      const long sent_after = (*after)["interfaces"][id]["fromInstance"]["packets"];
      // The pod's own packets left by the interface that owns its address.
      EXPECT_GE(sent_after - sent_before, 6) << ips[n][p] << " on " << id;
    }
  }
  // And from the VPC host to every pod.
  for (const auto& ip : all) {
    EXPECT_EQ(sh("ip netns exec " + sim_->vpcHostNs("host") + " ping -c 1 -W 2 " + ip).exit_code, 0)
        << "host -> " << ip;
  }
  auto drops_after = sim_->rpFilterDrops();
  ASSERT_TRUE(drops_after.ok());
  EXPECT_EQ(*drops_after, *drops_before) << "a packet left by an interface that does not own it";

  // quasard's rules: a deleted one is back by the next pass.
  Testbed& bed = *beds_[1];
  const std::string victim = ips[1][4];
  ASSERT_EQ(bed.inNs(bed.nodeNs(), "ip rule del from " + victim + "/32").exit_code, 0);
  EXPECT_TRUE(eventually([&] {
    return bed.inNs(bed.nodeNs(), "ip rule show from " + victim + "/32").out.find("lookup") !=
           std::string::npos;
  })) << bed.inNs(bed.nodeNs(), "ip rule").out;
  EXPECT_TRUE(ping(bed, bed.podNs("p4"), host));
}

TEST_F(EniE2E, TheLimitFailsWithItsCodeAndAFreedAddressLetsTheNextThrough) {
  // 3 x (4 - 1) = 9 pod addresses, max pods 11 (AWS's formula).
  Testbed& bed = node(1, {});
  std::vector<std::string> ips;
  for (int p = 0; p < 9; ++p) {
    auto r = add(bed, "p" + std::to_string(p));
    ASSERT_EQ(r.exit_code, 0) << p << ": " << r.out << r.err << bed.daemonLog();
    ips.push_back(podIpOf(r));
  }
  auto full = add(bed, "p9");
  EXPECT_EQ(cniCode(full), 109) << full.out;
  EXPECT_NE(full.out.find("sim.large"), std::string::npos) << full.out;
  EXPECT_EQ(bed.hostVethsSettled(9).size(), 9u) << "the failed ADD left a veth";
  const json s = eniStatus(bed);
  EXPECT_EQ(s["maxPods"]["value"], 11) << s.dump();
  EXPECT_EQ(s["capacity"], 9) << s.dump();

  auto del = bed.cni("DEL", "c-p3", "p3", bed.netConf());
  ASSERT_EQ(del.exit_code, 0) << del.out;
  // The address is held until quasard has removed the pod's veth, then free at once (no
  // cool-down in this bed). The hold ends just after the veth is gone: an ADD in between is
  // told to try again (code 11), as kubelet then does.
  ASSERT_EQ(bed.hostVethsSettled(8).size(), 8u);
  auto next = bed.cni("ADD", "c-p9", "p9", bed.netConf());
  ASSERT_TRUE(eventually([&] {
    if (next.exit_code == 0 || cniCode(next) != 11) return true;
    next = bed.cni("ADD", "c-p9", "p9", bed.netConf());
    return next.exit_code == 0;
  })) << next.out;
  ASSERT_EQ(next.exit_code, 0) << next.out << bed.daemonLog();
  EXPECT_EQ(attached(1).size(), 3u);
  expectCloudAndStoreAgree(1);
}

TEST_F(EniE2E, AWarmPoolServesAddsWithNoCloudCallAndThrottlingFailsNone) {
  Testbed& bed = node(1, {.warm_ip_target = 2});
  ASSERT_TRUE(eventually([&] {
    const json s = eniStatus(bed);
    return s.is_object() && s["addresses"]["free"] == 2;
  })) << eniStatus(bed).dump();
  // Every call that would change the cloud is refused from now on.
  for (const char* action :
       {"AssignPrivateIpAddresses", "CreateNetworkInterface", "AttachNetworkInterface"}) {
    ASSERT_TRUE(sim_->throttleAlways(action).ok());
  }
  ASSERT_TRUE(sim_->resetCalls().ok());
  for (const char* pod : {"w0", "w1"}) {
    auto r = add(bed, pod);
    EXPECT_EQ(r.exit_code, 0) << pod << ": " << r.out << bed.daemonLog();
  }
  // The refill tried meanwhile (and was throttled); none of it succeeded, so the two ADDs were
  // served without the cloud.
  auto calls = sim_->calls();
  ASSERT_TRUE(calls.ok());
  const int assigns = calls->value("/calls/AssignPrivateIpAddresses"_json_pointer, 0);
  const int throttled = calls->value("/throttled/AssignPrivateIpAddresses"_json_pointer, 0);
  EXPECT_EQ(assigns, throttled) << calls->dump();
  // With the pool empty and the cloud throttling, the next ADD is told to try again.
  auto cold = add(bed, "w2");
  EXPECT_EQ(cniCode(cold), 11) << cold.out;
  ASSERT_TRUE(sim_->clearThrottle().ok());
  auto again = bed.cni("ADD", "c-w2", "w2", bed.netConf());
  EXPECT_EQ(again.exit_code, 0) << again.out << bed.daemonLog();
  // The refill's own retries back off up to 10 s between attempts.
  EXPECT_TRUE(eventually([&] { return eniStatus(bed)["addresses"]["free"] == 2; },
                         std::chrono::seconds(45)))
      << eniStatus(bed).dump();
  expectCloudAndStoreAgree(1);
}

TEST_F(EniE2E, KillDuringAttachThenRestartAdoptsTheInterface) {
  // The pool wants a second interface at once: two interfaces' worth of free addresses.
  auto hold = sim_->holdNext("AttachNetworkInterface", VpcSim::Phase::kAfter);
  ASSERT_TRUE(hold.ok()) << hold.status();
  Testbed& bed = node(1, {.warm_eni_target = 2}, /*start=*/false);
  bed.startDaemon();
  auto held = sim_->waitHeld(*hold, std::chrono::seconds(30));
  ASSERT_TRUE(held.ok()) << held.status() << bed.daemonLog();
  bed.stopDaemon(SIGKILL);
  ASSERT_TRUE(sim_->release(*hold).ok());
  bed.startDaemon();
  ASSERT_TRUE(eventually([&] {
    const json s = eniStatus(bed);
    return s.is_object() && s["started"] == true && s["interfaces"].size() == 2;
  })) << eniStatus(bed).dump()
      << bed.daemonLog();
  // One interface was created and it is attached: nothing orphaned, nothing twice.
  auto st = sim_->state();
  ASSERT_TRUE(st.ok());
  int quasars = 0;
  for (const auto& i : (*st)["interfaces"]) {
    if (i["tags"].contains("quasar.io/node")) {
      ++quasars;
      EXPECT_FALSE(i["attachment"].is_null()) << i.dump();
    }
  }
  EXPECT_EQ(quasars, 1) << st->dump();
  // Attached by the quasard that was killed, marked by the one that adopted it.
  EXPECT_TRUE(eventually([&] { return quasarsGoWithTheInstance(1); })) << sim_->state()->dump();
  for (int p = 0; p < 4; ++p) {
    auto r = add(bed, "p" + std::to_string(p));
    EXPECT_EQ(r.exit_code, 0) << r.out;
  }
  expectCloudAndStoreAgree(1);
}

TEST_F(EniE2E, KillDuringAssignmentThenRestartLosesNoAddress) {
  // No warm pool: the ADD assigns its own address (the cold path).
  Testbed& bed = node(1, {});
  auto hold = sim_->holdNext("AssignPrivateIpAddresses", VpcSim::Phase::kAfter);
  ASSERT_TRUE(hold.ok()) << hold.status();
  bed.addPod("p0");
  const std::string conf = bed.netConf().dump();
  auto held_add = spawnBackground(
      {"ip", "netns", "exec", bed.nodeNs(), "env", "CNI_COMMAND=ADD", "CNI_CONTAINERID=c-p0",
       "CNI_NETNS=/run/netns/" + bed.podNs("p0"), "CNI_IFNAME=eth0", "CNI_PATH=" QUASAR_BIN_DIR,
       "sh", "-c", "echo '" + conf + "' | " QUASAR_BIN_DIR "/quasar"},
      bed.dir() + "/held-add.log");
  auto held = sim_->waitHeld(*hold, std::chrono::seconds(30));
  ASSERT_TRUE(held.ok()) << held.status() << bed.daemonLog();
  bed.stopDaemon(SIGKILL);
  ASSERT_TRUE(sim_->release(*hold).ok());
  int status = 0;
  waitpid(held_add, &status, 0);
  bed.startDaemon();
  ASSERT_TRUE(eventually([&] { return eniStatus(bed)["started"] == true; }))
      << eniStatus(bed).dump();
  // The address EC2 assigned while quasard died is the pool's now (free, or given back), never
  // a pod's twice.
  expectCloudAndStoreAgree(1);
  std::set<std::string> ips;
  for (int p = 1; p < 9; ++p) {
    auto r = add(bed, "p" + std::to_string(p));
    ASSERT_EQ(r.exit_code, 0) << r.out << bed.daemonLog();
    EXPECT_TRUE(ips.insert(podIpOf(r)).second) << "given twice: " << podIpOf(r);
  }
  expectCloudAndStoreAgree(1);
}

TEST_F(EniE2E, TheNodeSelectorChoosesTheModePerNode) {
  const std::string gpu_only = "  nodeSelector: {nvidia.com/gpu.present: \"true\"}\n";
  // Selected by the config's labels: ENI mode.
  Testbed& gpu = node(1, {.more = gpu_only, .labels = "{nvidia.com/gpu.present: \"true\"}"});
  auto r = add(gpu, "p0");
  ASSERT_EQ(r.exit_code, 0) << r.out << gpu.daemonLog();
  EXPECT_EQ(podIpOf(r).rfind("10.30.1.", 0), 0u) << podIpOf(r);
  EXPECT_TRUE(eniStatus(gpu).is_object());

  // Not selected: pod-CIDR addresses, and not one call to the cloud.
  Testbed& plain = node(2, {.more = gpu_only});
  r = add(plain, "p0");
  ASSERT_EQ(r.exit_code, 0) << r.out << plain.daemonLog();
  EXPECT_EQ(podIpOf(r).rfind("10.244.1.", 0), 0u) << podIpOf(r);
  EXPECT_TRUE(eniStatus(plain).is_null());
  auto calls = sim_->calls();
  ASSERT_TRUE(calls.ok());
  EXPECT_FALSE((*calls)["byCaller"].contains(VpcSim::instanceId(2))) << calls->dump();

  // The Node object's labels count too (a GPU node's come from the cluster): labelled, then
  // restarted, the node takes ENI addresses for new pods; the old pod keeps its own.
  const std::string file = plain.dir() + "/node.yaml";
  std::ofstream(file) << "apiVersion: v1\nkind: Node\nmetadata:\n  name: " << plain.nodeName()
                      << "\n  labels: {nvidia.com/gpu.present: \"true\"}\n";
  auto applied = plain.ctl("apply -f " + file);
  ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
  plain.stopDaemon(SIGTERM);
  plain.startDaemon();
  r = add(plain, "p1");
  ASSERT_EQ(r.exit_code, 0) << r.out << plain.daemonLog();
  EXPECT_EQ(podIpOf(r).rfind("10.30.1.", 0), 0u) << podIpOf(r);
  EXPECT_EQ(plain.allocations().size(), 2u);
}

}  // namespace
}  // namespace quasar::tests
