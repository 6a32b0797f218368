// End-to-end tests of floating IPs (issue 13) on the real kernel (label: netns, needs root): a
// real quasard, the real plugin, FloatingIPPool objects on the bed's uplink subnet. The bed's
// gateway namespace is the "legacy host": it runs no quasar and reaches a pod's floating IP only
// through the node's proxy ARP (veth mode) or the pod's own MAC on the link (macvlan mode).

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "tests/eventually.h"
#include "tests/testbed.h"

namespace quasar::tests {
namespace {

using nlohmann::json;

// Polls `cond` every 20 ms until it holds or `seconds` passed; returns its last value.

class FloatingE2E : public ::testing::Test {
 protected:
  FloatingE2E() : bed_(options()) {}
  static Testbed::Options options() {
    Testbed::Options o;
    o.cooldown_seconds = 0;
    return o;
  }
  void SetUp() override { bed_.startDaemon(); }

  // "10.250.N." of the bed's uplink.
  std::string net() const {
    const std::string ip = bed_.nodeIp();
    return ip.substr(0, ip.rfind('.') + 1);
  }

  // Writes `yaml` into the bed's directory and applies it with quasarctl.
  void apply(const std::string& yaml) {
    const std::string file = bed_.dir() + "/objects" + std::to_string(files_++) + ".yaml";
    std::ofstream(file) << yaml;
    auto r = bed_.ctl("apply -f " + file);
    ASSERT_EQ(r.exit_code, 0) << yaml << "\n" << r.out << r.err;
  }

  // A pool on the uplink subnet with gateway .254; `first`/`last` are host numbers.
  void applyPool(const std::string& name, int first, int last, const std::string& extra = "") {
    apply("apiVersion: quasar.io/v1\nkind: FloatingIPPool\nmetadata: {name: " + name +
          "}\nspec:\n  subnet: " + net() + "0/24\n  gateway: " + net() + "254\n  ranges: [\"" +
          net() + std::to_string(first) + "-" + net() + std::to_string(last) + "\"]\n" + extra);
  }

  void applyPod(const std::string& name, const std::map<std::string, std::string>& annotations) {
    json pod = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata", {{"name", name}, {"namespace", "default"}}},
                {"spec", {{"containers", {{{"name", "c"}, {"image", "x"}}}}}}};
    for (const auto& [k, v] : annotations) pod["metadata"]["annotations"][k] = v;
    apply(pod.dump());
  }

  void applyNode(const std::map<std::string, std::string>& labels) {
    json node = {{"apiVersion", "v1"},
                 {"kind", "Node"},
                 {"metadata", {{"name", bed_.nodeName()}, {"labels", json::object()}}}};
    for (const auto& [k, v] : labels) node["metadata"]["labels"][k] = v;
    apply(node.dump());
  }

  // ADD/DEL of Kubernetes pod `pod` (namespace default) in the bed's pod namespace `ns`.
  CmdResult cni(const std::string& command, const std::string& container, const std::string& ns,
                const std::string& pod, const json& extra = json::object()) {
    return bed_.cni(command, container, ns, bed_.netConf("1.1.0", extra), "eth0",
                    {{"CNI_ARGS", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=" + pod}});
  }
  CmdResult add(const std::string& container, const std::string& ns, const std::string& pod,
                const json& extra = json::object()) {
    return cni("ADD", container, ns, pod, extra);
  }
  // As a runtime does: ADD again while the answer is 11 (try again later), as it is right after
  // quasard starts while its object view loads the pools; for up to 10 s.
  CmdResult addRetrying(const std::string& container, const std::string& ns,
                        const std::string& pod) {
    CmdResult r;
    eventually([&] { return cniCode(r = add(container, ns, pod)) != 11; }, std::chrono::seconds(10));
    return r;
  }

  // Addresses quasard has allocated (prefix length stripped), one entry per allocation.
  std::multiset<std::string> allocatedIps() {
    std::multiset<std::string> out;
    for (const auto& a : bed_.allocations()) {
      for (const auto& ip : a.value("ips", json::array())) {
        std::string s = ip.get<std::string>();
        out.insert(s.substr(0, s.find('/')));
      }
    }
    return out;
  }

  bool proxyNeighbour(const std::string& ip) {
    auto r = bed_.inNs(bed_.nodeNs(), "ip neigh show proxy");
    return r.out.find(ip + " ") != std::string::npos;
  }

  Testbed bed_;
  int files_ = 0;
};

const std::map<std::string, std::string> kFloating = {{"quasar.io/floating-ip", "true"}};

// 1. The legacy host reaches the pod's floating IP through the node's proxy ARP; DEL removes the
// proxy entry and frees the address.
TEST_F(FloatingE2E, LegacyHostReachesFloatingPodAndDelCleansUp) {
  applyPool("underlay", 100, 102);
  applyPod("legacy", kFloating);
  bed_.addPod("p1");
  auto r = add("c1", "p1", "legacy");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << bed_.daemonLog();
  const std::string ip = podIpOf(r);
  ASSERT_EQ(ip.rfind(net(), 0), 0u) << r.out;
  const int host = std::stoi(ip.substr(net().size()));
  EXPECT_TRUE(host >= 100 && host <= 102) << ip;
  EXPECT_EQ(bed_.inNs(bed_.gatewayNs(), "ping -c1 -W2 " + ip).exit_code, 0);
  EXPECT_TRUE(proxyNeighbour(ip)) << bed_.inNs(bed_.nodeNs(), "ip neigh show proxy").out;
  EXPECT_EQ(allocatedIps().count(ip), 1u) << bed_.allocations().dump();

  auto del = cni("DEL", "c1", "p1", "legacy");
  ASSERT_EQ(del.exit_code, 0) << del.out << del.err;
  EXPECT_TRUE(eventually([&] { return !proxyNeighbour(ip); }))
      << bed_.inNs(bed_.nodeNs(), "ip neigh show proxy").out;
  EXPECT_EQ(allocatedIps().count(ip), 0u) << bed_.allocations().dump();
  EXPECT_TRUE(bed_.hostVethsSettled(0).empty());
}

// 2. immutable: the same pod name gets its address back after DEL, and nobody else takes it in
// between; release (the default): another pod takes the address after DEL.
TEST_F(FloatingE2E, ImmutableKeepsTheAddressReleaseFreesIt) {
  applyPool("imm", 110, 110);
  applyPool("rel", 111, 111);
  applyPod("sts-0",
           {{"quasar.io/floating-ip-pools", "imm"}, {"quasar.io/release-policy", "immutable"}});
  applyPod("other", {{"quasar.io/floating-ip-pools", "imm"}});
  bed_.addPod("a");
  bed_.addPod("b");
  auto first = add("c1", "a", "sts-0");
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err << bed_.daemonLog();
  const std::string ip = podIpOf(first);
  EXPECT_EQ(ip, net() + "110");
  ASSERT_EQ(cni("DEL", "c1", "a", "sts-0").exit_code, 0);
  // Held for sts-0: another pod of the pool finds it full.
  auto other = add("o1", "b", "other");
  EXPECT_NE(other.exit_code, 0) << other.out;
  EXPECT_EQ(cniCode(other), 106) << other.out;
  bed_.deletePodNs("a");
  bed_.addPod("a2");
  auto again = add("c2", "a2", "sts-0");
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(podIpOf(again), ip);
  EXPECT_EQ(bed_.inNs(bed_.gatewayNs(), "ping -c1 -W2 " + ip).exit_code, 0);

  // release: the Galaxy key is honoured the same way.
  applyPod("r1", {{"quasar.io/floating-ip-pools", "rel"},
                  {"k8s.v1.cni.galaxy.io/release-policy", "release"}});
  applyPod("r2", {{"quasar.io/floating-ip-pools", "rel"}});
  bed_.addPod("r1");
  bed_.addPod("r2");
  auto r1 = add("r1c", "r1", "r1");
  ASSERT_EQ(r1.exit_code, 0) << r1.out << r1.err;
  EXPECT_EQ(podIpOf(r1), net() + "111");
  auto r2_full = add("r2c", "r2", "r2");
  EXPECT_EQ(cniCode(r2_full), 106) << r2_full.out;
  ASSERT_EQ(cni("DEL", "r1c", "r1", "r1").exit_code, 0);
  auto r2 = add("r2c", "r2", "r2");
  ASSERT_EQ(r2.exit_code, 0) << r2.out << r2.err;
  EXPECT_EQ(podIpOf(r2), net() + "111");
  EXPECT_EQ(bed_.inNs(bed_.gatewayNs(), "ping -c1 -W2 " + net() + "111").exit_code, 0);
}

// 3. Exhaustion and the floating error codes; a failed ADD leaves no veth and no allocation.
TEST_F(FloatingE2E, ExhaustionAndErrorCodes) {
  applyPool("two", 120, 121);
  for (const char* p : {"f1", "f2", "f3", "f4", "f5", "nope"}) bed_.addPod(p);
  applyPod("f1", {{"quasar.io/floating-ip-pools", "two"}});
  applyPod("f2", {{"quasar.io/floating-ip-pools", "two"}});
  applyPod("f3", {{"quasar.io/floating-ip-pools", "two"}});
  applyPod("f4", kFloating);
  applyPod("f5", kFloating);
  applyPod("nope", {{"quasar.io/floating-ip-pools", "nope"}});
  auto f1 = add("c1", "f1", "f1");
  auto f2 = add("c2", "f2", "f2");
  ASSERT_EQ(f1.exit_code, 0) << f1.out << f1.err << bed_.daemonLog();
  ASSERT_EQ(f2.exit_code, 0) << f2.out << f2.err;
  EXPECT_EQ(std::set<std::string>({podIpOf(f1), podIpOf(f2)}),
            std::set<std::string>({net() + "120", net() + "121"}));

  auto f3 = add("c3", "f3", "f3");
  EXPECT_NE(f3.exit_code, 0);
  EXPECT_EQ(cniCode(f3), 106) << f3.out << f3.err;
  auto nope = add("cn", "nope", "nope");
  EXPECT_NE(nope.exit_code, 0);
  EXPECT_EQ(cniCode(nope), 105) << nope.out << nope.err;
  // An address of the pool that f1 holds.
  auto taken = add("c4", "f4", "f4", {{"runtimeConfig", {{"ips", {podIpOf(f1)}}}}});
  EXPECT_NE(taken.exit_code, 0);
  EXPECT_EQ(cniCode(taken), 107) << taken.out << taken.err;
  // On the pool's subnet but in none of its ranges.
  auto outside = add("c5", "f5", "f5", {{"runtimeConfig", {{"ips", {net() + "50"}}}}});
  EXPECT_NE(outside.exit_code, 0);
  EXPECT_EQ(cniCode(outside), 108) << outside.out << outside.err;

  EXPECT_EQ(bed_.hostVethsSettled(2).size(), 2u);
  EXPECT_EQ(allocatedIps(), std::multiset<std::string>({podIpOf(f1), podIpOf(f2)}))
      << bed_.allocations().dump();
}

// 3b. Fallback through the plugin: pods asking for "a,b" fill a (2 addresses), the third gets
// b's; with both full the ADD fails with 106 and leaves no veth and no address behind.
TEST_F(FloatingE2E, PoolListFallsBackToTheNextPoolThenFails) {
  applyPool("a", 160, 161);
  applyPool("b", 165, 165);
  const std::map<std::string, std::string> a_then_b = {{"quasar.io/floating-ip-pools", "a,b"}};
  for (const char* p : {"fb1", "fb2", "fb3", "fb4"}) {
    applyPod(p, a_then_b);
    bed_.addPod(p);
  }
  auto fb1 = add("c1", "fb1", "fb1");
  auto fb2 = add("c2", "fb2", "fb2");
  ASSERT_EQ(fb1.exit_code, 0) << fb1.out << fb1.err << bed_.daemonLog();
  ASSERT_EQ(fb2.exit_code, 0) << fb2.out << fb2.err;
  EXPECT_EQ(std::set<std::string>({podIpOf(fb1), podIpOf(fb2)}),
            std::set<std::string>({net() + "160", net() + "161"}));
  auto fb3 = add("c3", "fb3", "fb3");
  ASSERT_EQ(fb3.exit_code, 0) << fb3.out << fb3.err << bed_.daemonLog();
  EXPECT_EQ(podIpOf(fb3), net() + "165");
  EXPECT_EQ(bed_.inNs(bed_.gatewayNs(), "ping -c1 -W2 " + podIpOf(fb3)).exit_code, 0);
  const auto leases = bed_.ctl("-o json fip list").json();
  ASSERT_TRUE(leases.is_array()) << leases.dump();
  for (const auto& l : leases) {
    if (l.value("ip", "") == podIpOf(fb3)) {
      EXPECT_EQ(l.value("pool", ""), "b") << l.dump();
    }
  }

  auto fb4 = add("c4", "fb4", "fb4");
  EXPECT_NE(fb4.exit_code, 0);
  EXPECT_EQ(cniCode(fb4), 106) << fb4.out << fb4.err;
  // The message counts each pool asked for.
  EXPECT_NE(fb4.out.find("a (2/2)"), std::string::npos) << fb4.out;
  EXPECT_NE(fb4.out.find("b (1/1)"), std::string::npos) << fb4.out;
  EXPECT_EQ(bed_.hostVethsSettled(3).size(), 3u);
  EXPECT_EQ(bed_.inNs(bed_.podNs("fb4"), "ip -o addr show dev eth0").out, "")
      << bed_.inNs(bed_.podNs("fb4"), "ip -o addr").out;
  EXPECT_EQ(allocatedIps(), std::multiset<std::string>({podIpOf(fb1), podIpOf(fb2), podIpOf(fb3)}))
      << bed_.allocations().dump();
}

// 4. A pool restricted by nodeSelector refuses a node without the label (105) and serves it once
// the node object carries the label.
TEST_F(FloatingE2E, NodeSelectorFollowsTheNodeLabels) {
  applyPool("gpu", 130, 131, "  nodeSelector: {nvidia.com/gpu.present: \"true\"}\n");
  applyNode({{"zone", "a"}});
  applyPod("trainer", {{"quasar.io/floating-ip-pools", "gpu"}});
  bed_.addPod("t");
  auto refused = add("c1", "t", "trainer");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_EQ(cniCode(refused), 105) << refused.out << refused.err;
  EXPECT_TRUE(bed_.hostVethsSettled(0).empty());
  EXPECT_TRUE(allocatedIps().empty()) << bed_.allocations().dump();

  applyNode({{"zone", "a"}, {"nvidia.com/gpu.present", "true"}});
  CmdResult ok;
  EXPECT_TRUE(eventually([&] {
    ok = add("c2", "t", "trainer");
    return ok.exit_code == 0;
  })) << ok.out
      << ok.err;
  EXPECT_EQ(podIpOf(ok).rfind(net() + "13", 0), 0u) << ok.out;
  EXPECT_EQ(bed_.inNs(bed_.gatewayNs(), "ping -c1 -W2 " + podIpOf(ok)).exit_code, 0);
}

// 5. macvlan mode: the pod sits on the uplink's link itself; the legacy host and its own node
// both reach it.
TEST_F(FloatingE2E, MacvlanPodReachedFromLegacyHostAndItsNode) {
  applyPool("mv", 140, 141, "  mode: macvlan\n");
  applyPod("mac", kFloating);
  bed_.addPod("m");
  auto r = add("c1", "m", "mac");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << bed_.daemonLog();
  const std::string ip = podIpOf(r);
  EXPECT_EQ(ip.rfind(net() + "14", 0), 0u) << r.out;
  EXPECT_EQ(bed_.inNs(bed_.gatewayNs(), "ping -c1 -W2 " + ip).exit_code, 0);
  EXPECT_EQ(bed_.inNs(bed_.nodeNs(), "ping -c1 -W2 " + ip).exit_code, 0);
  EXPECT_TRUE(bed_.inNs(bed_.podNs("m"), "ip -d link show eth0").out.find("macvlan") !=
              std::string::npos)
      << bed_.inNs(bed_.podNs("m"), "ip -d link show eth0").out;
  ASSERT_EQ(cni("DEL", "c1", "m", "mac").exit_code, 0);
  EXPECT_EQ(allocatedIps().count(ip), 0u) << bed_.allocations().dump();
}

// 6. kill -9 of quasard right after a floating ADD; after the restart DEL and ADD work and no two
// pods share an address.
TEST_F(FloatingE2E, DaemonKilledAfterAddNoLeakNoDuplicate) {
  applyPool("crash", 150, 152);
  for (const char* p : {"k1", "k2", "k3"}) {
    applyPod(p, kFloating);
    bed_.addPod(p);
  }
  auto k1 = add("c1", "k1", "k1");
  ASSERT_EQ(k1.exit_code, 0) << k1.out << k1.err << bed_.daemonLog();
  bed_.stopDaemon(SIGKILL);
  bed_.startDaemon();
  // k1's address survived the crash: it is still allocated and still answers.
  EXPECT_EQ(allocatedIps().count(podIpOf(k1)), 1u) << bed_.allocations().dump();
  EXPECT_EQ(bed_.inNs(bed_.gatewayNs(), "ping -c1 -W2 " + podIpOf(k1)).exit_code, 0);
  auto k2 = addRetrying("c2", "k2", "k2");
  ASSERT_EQ(k2.exit_code, 0) << k2.out << k2.err << bed_.daemonLog();
  EXPECT_NE(podIpOf(k2), podIpOf(k1));
  bed_.stopDaemon(SIGKILL);
  bed_.startDaemon();
  ASSERT_EQ(cni("DEL", "c1", "k1", "k1").exit_code, 0);
  auto k3 = addRetrying("c3", "k3", "k3");
  ASSERT_EQ(k3.exit_code, 0) << k3.out << k3.err;
  EXPECT_NE(podIpOf(k3), podIpOf(k2));
  auto k1b = addRetrying("c1b", "k1", "k1");
  ASSERT_EQ(k1b.exit_code, 0) << k1b.out << k1b.err;
  const auto ips = allocatedIps();
  EXPECT_EQ(ips.size(), 3u) << bed_.allocations().dump();
  EXPECT_EQ(std::set<std::string>(ips.begin(), ips.end()).size(), ips.size())
      << "duplicate: " << bed_.allocations().dump();
  EXPECT_EQ(std::set<std::string>({podIpOf(k1b), podIpOf(k2), podIpOf(k3)}).size(), 3u);
  EXPECT_EQ(bed_.hostVethsSettled(3).size(), 3u);
}


// 7. A pool on a tagged VLAN: the node makes up0.<vid>, answers ARP there for the pod only, and
// the pod's replies leave tagged (the legacy host has rp_filter on, so an answer that came back
// untagged would be dropped). This machine's kernel has no 802.1Q: the test runs in the VM
// (ctest -L vm: scripts/vm-test.sh sets QUASAR_REQUIRE_VLAN=1 there, which makes a missing
// 802.1Q a failure instead of a skip).
TEST_F(FloatingE2E, VlanPoolPodReachedOnItsVlan) {
  const std::string gw = bed_.gatewayNs();
  auto made = bed_.inNs(gw, "ip link add link down0 name down0.100 type vlan id 100");
  if (made.exit_code != 0) {
    if (getenv("QUASAR_REQUIRE_VLAN") != nullptr) FAIL() << "no 802.1Q here: " << made.err;
    GTEST_SKIP() << "NOT RUN: no 802.1Q VLAN support in this kernel (" << made.err
                 << "); ctest -L vm runs it";
  }
  ASSERT_EQ(bed_.inNs(gw, "ip addr add 172.16.100.254/24 dev down0.100 && ip link set down0.100 up "
                          "&& echo 1 > /proc/sys/net/ipv4/conf/all/rp_filter")
                .exit_code,
            0);
  apply(
      "apiVersion: quasar.io/v1\nkind: FloatingIPPool\nmetadata: {name: tagged}\nspec:\n"
      "  subnet: 172.16.100.0/24\n  gateway: 172.16.100.254\n"
      "  ranges: [\"172.16.100.10-172.16.100.11\"]\n  vlan: 100\n");
  applyPod("tag", kFloating);
  bed_.addPod("t");
  auto r = add("c1", "t", "tag");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << bed_.daemonLog();
  const std::string ip = podIpOf(r);
  EXPECT_EQ(ip.rfind("172.16.100.1", 0), 0u) << r.out;
  const auto link = bed_.inNs(bed_.nodeNs(), "ip -d link show up0.100").out;
  EXPECT_NE(link.find("vlan protocol 802.1Q id 100"), std::string::npos) << link;
  auto proxies = bed_.inNs(bed_.nodeNs(), "ip neigh show proxy dev up0.100").out;
  EXPECT_NE(proxies.find(ip + " "), std::string::npos) << proxies;
  auto ping = bed_.inNs(gw, "ping -c1 -W2 " + ip);
  EXPECT_EQ(ping.exit_code, 0) << ping.out << ping.err;
  ASSERT_EQ(cni("DEL", "c1", "t", "tag").exit_code, 0);
  EXPECT_FALSE(proxyNeighbour(ip));
  proxies = bed_.inNs(bed_.nodeNs(), "ip neigh show proxy dev up0.100").out;
  EXPECT_EQ(proxies.find(ip + " "), std::string::npos) << proxies;
}

}  // namespace
}  // namespace quasar::tests
