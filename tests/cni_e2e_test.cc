// End-to-end tests of the plugin and quasard on the real kernel (label: netns, needs root).

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "conf/net_conf.h"
#include "daemon/api/quasard.pb.h"
#include "daemon/api/plugin_wire.h"
#include "tests/testbed.h"

namespace quasar::tests {
namespace {

using nlohmann::json;

std::string podIp(const CmdResult& add) {
  auto j = add.json();
  std::string a = j["ips"][0]["address"].get<std::string>();
  return a.substr(0, a.find('/'));
}

class CniE2E : public ::testing::Test {
 protected:
  void SetUp() override { bed_.startDaemon(); }
  Testbed bed_;
};

TEST_F(CniE2E, PodsReachEachOtherAndTheNode) {
  bed_.addPod("a");
  bed_.addPod("b");
  auto a = bed_.cni("ADD", "ca", "a", bed_.netConf());
  auto b = bed_.cni("ADD", "cb", "b", bed_.netConf());
  ASSERT_EQ(a.exit_code, 0) << a.out << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  EXPECT_NE(podIp(a), podIp(b));
  EXPECT_EQ(bed_.inNs(bed_.podNs("a"), "ping -c1 -W2 " + podIp(b)).exit_code, 0);
  EXPECT_EQ(bed_.inNs(bed_.podNs("b"), "ping -c1 -W2 " + podIp(a)).exit_code, 0);
  EXPECT_EQ(bed_.inNs(bed_.podNs("a"), "ping -c1 -W2 " + bed_.nodeIp()).exit_code, 0);
  // The uplink is 1500, IPIP overhead 20: the pod MTU follows.
  EXPECT_EQ(a.json()["interfaces"][1]["mtu"], 1480);
  auto mtu = bed_.inNs(bed_.podNs("a"), "cat /sys/class/net/eth0/mtu");
  EXPECT_EQ(mtu.out, "1480\n");
}

// The node side gets proxy ARP; neither end of an IPv4-only pod's veth gets an IPv6 link-local
// address (nothing added to the node's IPv6 tables per pod).
TEST_F(CniE2E, VethEndsAreConfiguredOverNetlink) {
  bed_.addPod("a");
  auto a = bed_.cni("ADD", "ca", "a", bed_.netConf());
  ASSERT_EQ(a.exit_code, 0) << a.out << a.err;
  const std::string host = a.json()["interfaces"][0]["name"];
  EXPECT_EQ(bed_.inNs(bed_.nodeNs(), "cat /proc/sys/net/ipv4/conf/" + host + "/proxy_arp").out,
            "1\n");
  // The kernel adds a link-local address when an end's operstate turns up: wait for that first.
  auto operstate_up = [&](const std::string& ns, const std::string& dev) {
    for (int i = 0; i < 100; ++i) {
      if (bed_.inNs(ns, "cat /sys/class/net/" + dev + "/operstate").out == "up\n") return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  EXPECT_TRUE(operstate_up(bed_.nodeNs(), host));
  EXPECT_TRUE(operstate_up(bed_.podNs("a"), "eth0"));
  EXPECT_EQ(bed_.inNs(bed_.nodeNs(), "ip -6 addr show dev " + host).out, "");
  EXPECT_EQ(bed_.inNs(bed_.podNs("a"), "ip -6 addr show dev eth0").out, "");
  EXPECT_EQ(bed_.inNs(bed_.nodeNs(), "cat /proc/sys/net/ipv4/ip_forward").out, "1\n");
}

// quasard publishes the pod MTU next to its socket; the plugin creates the pair with it. A stale
// hint is only a hint: the pod gets quasard's MTU all the same.
TEST_F(CniE2E, PodMtuHintIsPublishedAndAStaleOneIsCorrected) {
  EXPECT_EQ(conf::readPodMtuHint(bed_.cniSocket()), 1480);
  ASSERT_TRUE(conf::writePodMtuHint(bed_.cniSocket(), 1400).ok());
  bed_.addPod("a");
  auto a = bed_.cni("ADD", "ca", "a", bed_.netConf());
  ASSERT_EQ(a.exit_code, 0) << a.out << a.err;
  const std::string host = a.json()["interfaces"][0]["name"];
  EXPECT_EQ(bed_.inNs(bed_.podNs("a"), "cat /sys/class/net/eth0/mtu").out, "1480\n");
  EXPECT_EQ(bed_.inNs(bed_.nodeNs(), "cat /sys/class/net/" + host + "/mtu").out, "1480\n");
}

// The gateway has no route to pods: a pod reaches it only because quasard masquerades pod
// traffic leaving the cluster (natOutgoing, on by default) to the node's address.
TEST_F(CniE2E, PodTrafficLeavingTheClusterIsMasqueraded) {
  bed_.addPod("p");
  ASSERT_EQ(bed_.cni("ADD", "c1", "p", bed_.netConf()).exit_code, 0);
  EXPECT_EQ(bed_.inNs(bed_.podNs("p"), "ping -c1 -W2 " + bed_.gatewayIp()).exit_code, 0);
  auto rules = bed_.inNs(bed_.nodeNs(), "iptables -t nat -S QUASAR-MASQ");
  EXPECT_NE(rules.out.find("-d 10.244.1.0/24 -j RETURN"), std::string::npos) << rules.out;
  EXPECT_NE(rules.out.find("MASQUERADE"), std::string::npos) << rules.out;
  EXPECT_EQ(bed_.inNs(bed_.nodeNs(), "iptables -t nat -S POSTROUTING | grep -c QUASAR-MASQ").out,
            "1\n");
}

TEST_F(CniE2E, ResultIsRenderedInTheRequestedVersion) {
  int i = 0;
  for (const char* v : {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}) {
    const std::string pod = "v" + std::to_string(i++);
    bed_.addPod(pod);
    auto r = bed_.cni("ADD", "c" + pod, pod, bed_.netConf(v));
    ASSERT_EQ(r.exit_code, 0) << v << r.out << r.err;
    auto j = r.json();
    EXPECT_EQ(j["cniVersion"], v);
    EXPECT_EQ(j["ips"][0].contains("version"), std::string(v) < "1.0.0") << v;
    EXPECT_EQ(j["interfaces"][1]["sandbox"], "/run/netns/" + bed_.podNs(pod));
    EXPECT_EQ(bed_.cni("DEL", "c" + pod, pod, bed_.netConf(v)).exit_code, 0);
  }
}

TEST_F(CniE2E, VersionReportsEverySupportedVersion) {
  auto r = bed_.cniRaw(R"({"cniVersion":"0.4.0"})", {{"CNI_COMMAND", "VERSION"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.json()["supportedVersions"],
            json::parse(R"(["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"])"));
}

TEST_F(CniE2E, BadInputGetsSpecErrorCodes) {
  bed_.addPod("p");
  std::map<std::string, std::string> env{{"CNI_COMMAND", "ADD"},
                                         {"CNI_CONTAINERID", "c1"},
                                         {"CNI_NETNS", "/run/netns/" + bed_.podNs("p")},
                                         {"CNI_IFNAME", "eth0"}};
  auto expect_code = [&](const CmdResult& r, int code, const char* what) {
    EXPECT_EQ(r.exit_code, 1) << what;
    auto j = r.json();
    ASSERT_TRUE(j.is_object()) << what << ": stdout must be the error JSON: " << r.out;
    EXPECT_EQ(j["code"], code) << what << ": " << r.out;
    EXPECT_FALSE(j["msg"].get<std::string>().empty()) << what;
  };
  expect_code(bed_.cniRaw("{not json", env), 6, "undecodable config");
  expect_code(bed_.cniRaw(R"({"cniVersion":"1.0.0"})", env), 7, "config without name");
  expect_code(bed_.cniRaw(bed_.netConf("0.2.0").dump(), env), 1, "unsupported version");
  auto no_ifname = env;
  no_ifname.erase("CNI_IFNAME");
  no_ifname["CNI_IFNAME"] = "";
  expect_code(bed_.cniRaw(bed_.netConf().dump(), no_ifname), 4, "missing CNI_IFNAME");
  auto gone = env;
  gone["CNI_NETNS"] = "/run/netns/does-not-exist";
  expect_code(bed_.cniRaw(bed_.netConf().dump(), gone), 3, "netns does not exist");
  // A file that is not a network namespace is found only after the address was asked for.
  auto not_netns = env;
  not_netns["CNI_NETNS"] = "/proc/self/stat";
  auto r = bed_.cniRaw(bed_.netConf().dump(), not_netns);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("not a network namespace"), std::string::npos) << r.out;
  // Nothing of the failed ADDs stays: no address, no veth.
  EXPECT_TRUE(bed_.allocations().empty()) << bed_.allocations().dump();
  EXPECT_TRUE(bed_.hostVethsSettled().empty());
}

TEST_F(CniE2E, FailedAddInsidePodRollsBackVethAndAddress) {
  bed_.addPod("p");
  // An eth0 already in the pod makes the veth creation fail after the address was allocated.
  ASSERT_EQ(sh("ip -n " + bed_.podNs("p") + " link add eth0 type veth peer name x0").exit_code, 0);
  auto r = bed_.cni("ADD", "c1", "p", bed_.netConf());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.json()["code"], 102) << r.out;
  EXPECT_TRUE(bed_.allocations().empty()) << bed_.allocations().dump();
  EXPECT_TRUE(bed_.hostVethsSettled().empty());
}

TEST_F(CniE2E, SecondAddOfSameAttachmentFailsAndKeepsTheFirst) {
  bed_.addPod("p");
  bed_.addPod("q");
  auto first = bed_.cni("ADD", "c1", "p", bed_.netConf());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto again = bed_.cni("ADD", "c1", "p", bed_.netConf());
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.json()["code"], 102) << again.out;
  auto allocs = bed_.allocations();
  ASSERT_EQ(allocs.size(), 1u);
  EXPECT_EQ(allocs[0]["ips"][0], podIp(first) + "/32");
  ASSERT_EQ(bed_.cni("ADD", "c2", "q", bed_.netConf()).exit_code, 0);
  EXPECT_EQ(bed_.inNs(bed_.podNs("q"), "ping -c1 -W2 " + podIp(first)).exit_code, 0);
}

TEST_F(CniE2E, DelIsIdempotentAndWorksWithoutNetns) {
  bed_.addPod("p");
  ASSERT_EQ(bed_.cni("ADD", "c1", "p", bed_.netConf()).exit_code, 0);
  bed_.deletePodNs("p");
  auto del = bed_.cni("DEL", "c1", "p", bed_.netConf());
  EXPECT_EQ(del.exit_code, 0) << del.out << del.err;
  EXPECT_TRUE(del.out.empty());
  EXPECT_TRUE(bed_.allocations().empty());
  EXPECT_TRUE(bed_.hostVethsSettled().empty());
  EXPECT_EQ(bed_.cni("DEL", "c1", "", bed_.netConf()).exit_code, 0);
  EXPECT_EQ(bed_.cni("DEL", "never-added", "", bed_.netConf()).exit_code, 0);
}

// DEL answers before the kernel has removed the pair; an ADD of the same attachment into the
// same netns right after it waits for that instead of finding the old pair (code 102).
TEST_F(CniE2E, AddRightAfterDelOfTheSameAttachmentSucceeds) {
  bed_.addPod("p");
  for (int i = 0; i < 10; ++i) {
    auto add = bed_.cni("ADD", "c1", "p", bed_.netConf());
    ASSERT_EQ(add.exit_code, 0) << "round " << i << ": " << add.out << add.err;
    ASSERT_EQ(bed_.cni("DEL", "c1", "p", bed_.netConf()).exit_code, 0) << "round " << i;
  }
  EXPECT_TRUE(bed_.allocations().empty());
  EXPECT_TRUE(bed_.hostVethsSettled().empty());
}

TEST_F(CniE2E, DaemonDownMeansTryAgainLaterAndNothingIsLost) {
  bed_.addPod("p");
  bed_.addPod("q");
  ASSERT_EQ(bed_.cni("ADD", "c1", "p", bed_.netConf()).exit_code, 0);
  bed_.stopDaemon(SIGTERM);
  auto add = bed_.cni("ADD", "c2", "q", bed_.netConf());
  EXPECT_EQ(add.json()["code"], 11) << add.out;
  EXPECT_TRUE(bed_.inNs(bed_.podNs("q"), "ip -o link show eth0").exit_code != 0);
  auto del = bed_.cni("DEL", "c1", "p", bed_.netConf());
  EXPECT_EQ(del.json()["code"], 11) << del.out;
  auto status = bed_.cni("STATUS", "", "", bed_.netConf());
  EXPECT_EQ(status.json()["code"], 50) << status.out;
  bed_.startDaemon();
  // The runtime retries the DEL: now it releases the address.
  ASSERT_EQ(bed_.allocations().size(), 1u);
  EXPECT_EQ(bed_.cni("DEL", "c1", "p", bed_.netConf()).exit_code, 0);
  EXPECT_TRUE(bed_.allocations().empty());
  EXPECT_EQ(bed_.cni("STATUS", "", "", bed_.netConf()).exit_code, 0);
}

TEST_F(CniE2E, CheckPassesAndThenDetectsTampering) {
  bed_.addPod("p");
  auto add = bed_.cni("ADD", "c1", "p", bed_.netConf());
  ASSERT_EQ(add.exit_code, 0);
  json conf = bed_.netConf("1.1.0", {{"prevResult", add.json()}});
  auto ok = bed_.cni("CHECK", "c1", "p", conf);
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  ASSERT_EQ(bed_.inNs(bed_.podNs("p"), "ip route del default").exit_code, 0);
  auto bad = bed_.cni("CHECK", "c1", "p", conf);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.json()["code"], 103) << bad.out;
  EXPECT_NE(bad.out.find("default route"), std::string::npos) << bad.out;
}

TEST_F(CniE2E, GcReleasesEverythingNotValid) {
  for (const char* p : {"a", "b", "c"}) {
    bed_.addPod(p);
    ASSERT_EQ(bed_.cni("ADD", std::string("c") + p, p, bed_.netConf()).exit_code, 0);
  }
  json conf = bed_.netConf(
      "1.1.0", {{"cni.dev/valid-attachments", {{{"containerID", "cb"}, {"ifname", "eth0"}}}}});
  auto gc = bed_.cni("GC", "", "", conf);
  ASSERT_EQ(gc.exit_code, 0) << gc.out << gc.err;
  auto allocs = bed_.allocations();
  ASSERT_EQ(allocs.size(), 1u);
  EXPECT_EQ(allocs[0]["containerID"], "cb");
  EXPECT_EQ(bed_.hostVethsSettled(1).size(), 1u);
}

TEST_F(CniE2E, HonoursIpsAndMacCapabilities) {
  bed_.addPod("p");
  json conf = bed_.netConf(
      "1.1.0", {{"runtimeConfig", {{"ips", {"10.244.1.77/24"}}, {"mac", "02:00:00:00:00:42"}}}});
  auto r = bed_.cni("ADD", "c1", "p", conf);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(podIp(r), "10.244.1.77");
  EXPECT_EQ(r.json()["interfaces"][1]["mac"], "02:00:00:00:00:42");
  EXPECT_NE(bed_.inNs(bed_.podNs("p"), "ip link show eth0").out.find("02:00:00:00:00:42"),
            std::string::npos);
  bed_.addPod("q");
  auto taken = bed_.cni("ADD", "c2", "q",
                        bed_.netConf("1.1.0", {{"runtimeConfig", {{"ips", {"10.244.1.77"}}}}}));
  EXPECT_EQ(taken.json()["code"], 102) << taken.out;
  EXPECT_EQ(bed_.allocations().size(), 1u);
}

TEST_F(CniE2E, PrevResultIsPassedThroughWhenChained) {
  bed_.addPod("p");
  json prev = json::parse(R"({"cniVersion":"1.0.0","interfaces":[{"name":"lo0"}],
    "ips":[],"dns":{"nameservers":["10.96.0.10"]}})");
  auto r = bed_.cni("ADD", "c1", "p", bed_.netConf("1.0.0", {{"prevResult", prev}}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = r.json();
  EXPECT_EQ(j["interfaces"][0]["name"], "lo0");
  EXPECT_EQ(j["interfaces"].size(), 3u);
  EXPECT_EQ(j["ips"][0]["interface"], 2);
  EXPECT_EQ(j["dns"]["nameservers"][0], "10.96.0.10");
}

// 100 ADDs at once (as many pods start on a fresh GPU node), then 100 DELs. The ADDs' commits
// are batched: fewer store transactions than allocations.
TEST_F(CniE2E, HundredConcurrentAddsThenDelsNoDuplicateNoLeak) {
  constexpr int kPods = 100;
  for (int i = 0; i < kPods; ++i) bed_.addPod("p" + std::to_string(i));
  auto commits = [&] { return bed_.ctl("-o json status").json()["commits"]; };
  const json before = commits();
  ASSERT_TRUE(before.is_object()) << bed_.ctl("-o json status").out;
  std::mutex mu;
  std::set<std::string> ips;
  int failures = 0;
  auto burst = [&](const std::string& cmd) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 10; ++t) {
      threads.emplace_back([&, t] {
        for (int i = t; i < kPods; i += 10) {
          auto r = bed_.cni(cmd, "c" + std::to_string(i), "p" + std::to_string(i), bed_.netConf());
          std::lock_guard lock(mu);
          if (r.exit_code != 0) {
            ++failures;
            ADD_FAILURE() << cmd << " " << i << ": " << r.out << r.err;
          } else if (cmd == "ADD") {
            EXPECT_TRUE(ips.insert(podIp(r)).second) << "duplicate " << podIp(r);
          }
        }
      });
    }
    for (auto& t : threads) t.join();
  };
  burst("ADD");
  const json after = commits();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(ips.size(), size_t{kPods});
  const uint64_t transactions =
      after["transactions"].get<uint64_t>() - before["transactions"].get<uint64_t>();
  const uint64_t mutations =
      after["mutations"].get<uint64_t>() - before["mutations"].get<uint64_t>();
  EXPECT_EQ(mutations, uint64_t{kPods});
  EXPECT_LT(transactions, mutations) << "group commit did not batch concurrent ADDs";
  RecordProperty("add_transactions", static_cast<int>(transactions));
  EXPECT_EQ(bed_.allocations().size(), size_t{kPods});
  EXPECT_EQ(bed_.hostVeths().size(), size_t{kPods});
  burst("DEL");
  EXPECT_EQ(failures, 0);
  EXPECT_TRUE(bed_.allocations().empty());
  EXPECT_TRUE(bed_.hostVethsSettled().empty());
}

// quasard is killed -9 in the middle of a burst of ADDs and restarted: every address a
// successful ADD returned is unique and still recorded, and after the runtime's DELs (retried
// while the daemon was down) nothing is left. The kill lands once a quarter of the pods have
// their address, while ADDs are in flight; a thread whose ADD fails waits for the restart (as a
// runtime backs off) and goes on, so ADDs succeed both before the kill and after the restart.
TEST_F(CniE2E, DaemonKilledMidBurstNeitherDuplicatesNorLeaks) {
  constexpr int kPods = 60, kThreads = 6;
  for (int i = 0; i < kPods; ++i) bed_.addPod("p" + std::to_string(i));
  // Set by the test's own thread, under `mu`.
  enum Phase { kBefore, kDown, kRestarted };
  std::mutex mu;
  std::condition_variable cv;
  Phase phase = kBefore;
  std::map<std::string, std::string> ok_ips;  // container -> ip
  int ok_before_kill = 0;                     // succeeded, started and answered before the kill
  int ok_after_restart = 0;                   // succeeded, started after the restart
  int in_flight_at_kill = 0;                  // started before the kill, answered after it
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kPods; i += kThreads) {
        Phase started;
        {
          std::lock_guard lock(mu);
          started = phase;
        }
        const std::string c = "c" + std::to_string(i);
        auto r = bed_.cni("ADD", c, "p" + std::to_string(i), bed_.netConf());
        std::unique_lock lock(mu);
        if (started == kBefore && phase != kBefore) ++in_flight_at_kill;
        if (r.exit_code == 0) {
          ok_ips[c] = podIp(r);
          if (started == kBefore && phase == kBefore) ++ok_before_kill;
          if (started == kRestarted) ++ok_after_restart;
          cv.notify_all();
        } else {
          cv.wait(lock, [&] { return phase == kRestarted; });
        }
      }
    });
  }
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(30), [&] { return ok_ips.size() >= size_t{kPods / 4}; });
    phase = kDown;
  }
  {
    // Also when startDaemon() throws: the waiting threads go on, and are joined.
    absl::Cleanup join = [&] {
      {
        std::lock_guard lock(mu);
        phase = kRestarted;
      }
      cv.notify_all();
      for (auto& t : threads) t.join();
    };
    bed_.stopDaemon(SIGKILL);
    bed_.startDaemon();
  }
  RecordProperty("successful_adds_before_kill", ok_before_kill);
  RecordProperty("adds_in_flight_at_kill", in_flight_at_kill);
  RecordProperty("successful_adds_after_restart", ok_after_restart);
  EXPECT_GT(ok_before_kill, 0) << "the kill came before the burst";
  EXPECT_GT(in_flight_at_kill, 0) << "no ADD was in flight when quasard was killed";
  EXPECT_GT(ok_after_restart, 0) << "the kill came after the burst";
  std::set<std::string> unique;
  for (const auto& [c, ip] : ok_ips) EXPECT_TRUE(unique.insert(ip).second) << "duplicate " << ip;
  auto allocs = bed_.allocations();
  std::map<std::string, std::string> recorded;
  std::set<std::string> recorded_ips;
  for (const auto& a : allocs) {
    recorded[a["containerID"]] = a["ips"][0].get<std::string>();
    EXPECT_TRUE(recorded_ips.insert(a["ips"][0].get<std::string>()).second);
  }
  for (const auto& [c, ip] : ok_ips) {
    ASSERT_TRUE(recorded.contains(c)) << c << " got " << ip << " but quasard forgot it";
    EXPECT_EQ(recorded[c], ip + "/32");
  }
  // What the runtime does after failed ADDs and at pod removal: DEL everything.
  for (int i = 0; i < kPods; ++i) {
    auto r = bed_.cni("DEL", "c" + std::to_string(i), "p" + std::to_string(i), bed_.netConf());
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  EXPECT_TRUE(bed_.allocations().empty()) << bed_.allocations().dump();
  EXPECT_TRUE(bed_.hostVethsSettled().empty());
}

}  // namespace
}  // namespace quasar::tests

namespace quasar::tests {
namespace {

TEST_F(CniE2E, RestartedDaemonRemovesVethsNoAllocationOwns) {
  bed_.addPod("p");
  ASSERT_EQ(bed_.cni("ADD", "c1", "p", bed_.netConf()).exit_code, 0);
  bed_.stopDaemon(SIGKILL);
  // As if quasard died between answering a DEL and removing the veth: the release is on disk,
  // the veth is still there.
  ASSERT_EQ(sh("sqlite3 " + bed_.socket().substr(0, bed_.socket().rfind('/')) +
               "/state/ipam.db 'DELETE FROM allocations'")
                .exit_code,
            0);
  ASSERT_EQ(bed_.hostVeths().size(), 1u);
  bed_.startDaemon();
  EXPECT_TRUE(bed_.hostVeths().empty());
  EXPECT_NE(bed_.daemonLog().find("removed_orphan_veths=1"), std::string::npos);
}

}  // namespace
}  // namespace quasar::tests

namespace quasar::tests {
namespace {

// A stand-in for quasard on a plugin socket of its own: answers every Allocate with `ip` (the
// early and the durable answer), and runs `on_release` when a Release arrives, before answering
// it. One connection at a time; the destructor stops it.
class FakeDaemon {
 public:
  FakeDaemon(std::string path, std::string ip, std::function<void()> on_release)
      : path_(std::move(path)), ip_(std::move(ip)), on_release_(std::move(on_release)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ::unlink(path_.c_str());
    ok_ = listener_ >= 0 &&
          ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
          ::listen(listener_, 4) == 0;
    if (ok_) thread_ = std::thread([this] { serve(); });
  }
  ~FakeDaemon() {
    ::shutdown(listener_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(listener_);
    ::unlink(path_.c_str());
  }
  bool ok() const { return ok_; }

 private:
  void serve() {
    while (true) {
      const int conn = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) return;
      api::v1::PluginRequest req;
      while (api::readFrame(conn, req).ok()) {
        api::v1::PluginReply reply;
        if (req.has_allocate()) {
          auto* a = reply.mutable_allocate();
          *a->mutable_allocation()->mutable_attachment() = req.allocate().attachment();
          a->mutable_allocation()->add_ips(ip_ + "/32");
          a->set_created(true);
          a->set_mtu(1480);
          a->set_durable(false);
          api::writeFrame(conn, reply).IgnoreError();
          a->set_durable(true);
        } else if (req.has_release()) {
          on_release_();
          reply.mutable_release()->add_released_ips(ip_);
        } else {
          reply.set_code(12);  // UNIMPLEMENTED
        }
        if (!api::writeFrame(conn, reply).ok()) break;
      }
      ::close(conn);
    }
  }

  std::string path_;
  std::string ip_;
  std::function<void()> on_release_;
  int listener_ = -1;
  bool ok_ = false;
  std::thread thread_;
};

// A failed ADD removes its veth, and the /32 route through it, before it releases the address:
// with no cool-down the address may go to the next pod at once.
TEST_F(CniE2E, FailedAddRemovesItsVethBeforeReleasingTheAddress) {
  bed_.addPod("p");
  std::atomic<int> releases{0};
  std::string seen_at_release;
  const std::string socket = bed_.cniSocket().substr(0, bed_.cniSocket().rfind('/')) + "/fake.sock";
  FakeDaemon fake(socket, "10.244.1.9", [&] {
    seen_at_release = bed_.inNs(bed_.nodeNs(), "ip -o link show type veth; ip route").out;
    ++releases;
  });
  ASSERT_TRUE(fake.ok()) << strerror(errno);
  // The node's /32 route to the pod cannot be added: the ADD fails after making the veth.
  ASSERT_EQ(bed_.inNs(bed_.nodeNs(), "ip route add blackhole 10.244.1.9/32").exit_code, 0);
  auto r = bed_.cni("ADD", "c1", "p", bed_.netConf("1.1.0", {{"socket", socket}}));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  ASSERT_EQ(releases.load(), 1) << r.out << r.err;
  EXPECT_EQ(seen_at_release.find("qsr"), std::string::npos)
      << "the veth was still there when the address was released:\n"
      << seen_at_release;
  EXPECT_TRUE(bed_.hostVeths().empty());
}

// GC of another network runs while pods are being added: it releases nothing of theirs, and
// must not remove the veth of any attachment quasard holds, an ADD in flight included (made
// before its allocation is committed).
TEST_F(CniE2E, GcDuringAddsKeepsEveryAttachmentInFlight) {
  constexpr int kPods = 16;
  for (int i = 0; i < kPods; ++i) bed_.addPod("p" + std::to_string(i));
  std::atomic<bool> adding{true};
  std::atomic<int> gcs{0};
  const json other =
      bed_.netConf("1.1.0", {{"name", "other"}, {"cni.dev/valid-attachments", json::array()}});
  std::thread gc([&] {
    while (adding) {
      auto r = bed_.cni("GC", "", "", other);
      EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
      ++gcs;
    }
  });
  for (int i = 0; i < kPods; ++i) {
    const std::string c = "c" + std::to_string(i);
    auto r = bed_.cni("ADD", c, "p" + std::to_string(i), bed_.netConf());
    EXPECT_EQ(r.exit_code, 0) << c << ": " << r.out << r.err;
  }
  adding = false;
  gc.join();
  EXPECT_GT(gcs.load(), 1);
  EXPECT_EQ(bed_.allocations().size(), size_t{kPods}) << bed_.allocations().dump();
  EXPECT_EQ(bed_.hostVeths().size(), size_t{kPods});
  for (int i = 0; i < kPods; ++i) {
    EXPECT_EQ(bed_.inNs(bed_.podNs("p" + std::to_string(i)), "ip -o -4 addr show eth0").exit_code,
              0)
        << "pod " << i << " lost its interface";
  }
}

// Runtimes retry: several ADDs of one container and ifname at once. The first is kept (README):
// the others fail without touching the kernel, so the attachment is always left working.
TEST_F(CniE2E, ConcurrentAddsOfTheSameAttachmentKeepTheFirst) {
  constexpr int kRounds = 8;
  constexpr int kAdds = 4;
  bed_.addPod("p");
  for (int round = 0; round < kRounds; ++round) {
    std::vector<CmdResult> results(kAdds);
    std::vector<std::thread> threads;
    for (int i = 0; i < kAdds; ++i) {
      threads.emplace_back([&, i] { results[i] = bed_.cni("ADD", "c1", "p", bed_.netConf()); });
    }
    for (auto& t : threads) t.join();
    std::string ip;
    int ok = 0;
    for (const auto& r : results) {
      if (r.exit_code == 0) {
        ++ok;
        ip = podIp(r);
      } else {
        const int code = r.json()["code"].get<int>();
        EXPECT_TRUE(code == 11 || code == 102) << "round " << round << ": " << r.out << r.err;
      }
    }
    ASSERT_EQ(ok, 1) << "round " << round;
    auto allocs = bed_.allocations();
    ASSERT_EQ(allocs.size(), 1u) << "round " << round << ": " << allocs.dump();
    EXPECT_EQ(allocs[0]["ips"][0], ip + "/32") << "round " << round;
    EXPECT_EQ(bed_.hostVeths().size(), 1u) << "round " << round;
    EXPECT_NE(bed_.inNs(bed_.podNs("p"), "ip -o -4 addr show eth0").out.find(ip + "/32"),
              std::string::npos)
        << "round " << round << ": the pod lost the kept attachment's interface";
    ASSERT_EQ(bed_.cni("DEL", "c1", "p", bed_.netConf()).exit_code, 0) << "round " << round;
    ASSERT_TRUE(bed_.hostVethsSettled().empty()) << "round " << round;
  }
}

}  // namespace
}  // namespace quasar::tests

// The plugin under hostile input (issue 11).
namespace quasar::tests {
namespace {

// The environment of `command` for container `container` in pod `pod`'s namespace.
std::map<std::string, std::string> hostileEnv(Testbed& bed, const std::string& command,
                                              const std::string& container,
                                              const std::string& pod) {
  return {{"CNI_COMMAND", command},
          {"CNI_CONTAINERID", container},
          {"CNI_NETNS", "/run/netns/" + bed.podNs(pod)},
          {"CNI_IFNAME", "eth0"},
          {"CNI_PATH", QUASAR_BIN_DIR}};
}

// Fails unless `r` is a plugin failure with the spec's error JSON carrying `code` on stdout.
void expectCniError(const CmdResult& r, int code, const std::string& what) {
  EXPECT_EQ(r.exit_code, 1) << what << ": " << r.out << r.err;
  const auto j = r.json();
  ASSERT_TRUE(j.is_object()) << what << ": stdout must be the error JSON: " << r.out << r.err;
  EXPECT_EQ(j["code"], code) << what << ": " << r.out;
  EXPECT_TRUE(j["msg"].is_string() && !j["msg"].get<std::string>().empty()) << what;
}

// The test bed's config with a prevResult whose dns nests `depth` lists deep.
std::string confWithDeepPrevResult(const Testbed& bed, int depth) {
  std::string c = bed.netConf().dump();
  c.pop_back();  // its closing brace
  return c + R"(,"prevResult":{"cniVersion":"1.1.0","dns":{"x":)" + std::string(depth, '[') +
         std::string(depth, ']') + "}}}";
}

TEST_F(CniE2E, DeeplyNestedPrevResultIsADecodeErrorForAddAndDel) {
  bed_.addPod("p");
  bed_.addPod("q");
  for (int depth : {200, 5000, 100000}) {
    const std::string what = "depth " + std::to_string(depth);
    auto add = bed_.cniRaw(confWithDeepPrevResult(bed_, depth), hostileEnv(bed_, "ADD", "c1", "p"));
    expectCniError(add, 6, "ADD " + what);
    EXPECT_TRUE(bed_.allocations().empty()) << what << bed_.allocations().dump();
    EXPECT_TRUE(bed_.hostVeths().empty()) << what;
    EXPECT_NE(bed_.inNs(bed_.podNs("p"), "ip link show eth0").exit_code, 0) << what;
  }
  // A DEL with such a config neither crashes nor half-runs; the runtime's next DEL works.
  ASSERT_EQ(bed_.cni("ADD", "c2", "q", bed_.netConf()).exit_code, 0);
  for (int depth : {200, 5000, 100000}) {
    auto del = bed_.cniRaw(confWithDeepPrevResult(bed_, depth), hostileEnv(bed_, "DEL", "c2", "q"));
    expectCniError(del, 6, "DEL depth " + std::to_string(depth));
  }
  EXPECT_EQ(bed_.allocations().size(), 1u);
  EXPECT_EQ(bed_.cni("DEL", "c2", "q", bed_.netConf()).exit_code, 0);
  EXPECT_TRUE(bed_.allocations().empty());
  // A prevResult of ordinary depth still chains.
  auto ok = bed_.cniRaw(confWithDeepPrevResult(bed_, 20), hostileEnv(bed_, "ADD", "c1", "p"));
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
}

TEST_F(CniE2E, NonUtf8EnvironmentIsAnInvalidEnvironment) {
  bed_.addPod("p");
  const std::string bad = "\xff\xfe";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"CNI_COMMAND", "ADD" + bad},
      {"CNI_CONTAINERID", "c1" + bad},
      {"CNI_NETNS", "/run/netns/" + bed_.podNs("p") + bad},
      {"CNI_IFNAME", "eth" + bad},
      {"CNI_ARGS", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web" + bad},
      {"CNI_PATH", std::string(QUASAR_BIN_DIR) + bad},
  };
  for (const auto& [var, value] : cases) {
    for (const char* command : {"ADD", "DEL"}) {
      auto env = hostileEnv(bed_, command, "c1", "p");
      env[var] = value;
      expectCniError(bed_.cniRaw(bed_.netConf().dump(), env), 4,
                     std::string(command) + " with non-UTF-8 " + var);
    }
  }
  // Bytes that are not UTF-8 on stdin: a decode failure, whose message renders.
  expectCniError(bed_.cniRaw("{\"cniVersion\": \"1.1.0\xff\"}", hostileEnv(bed_, "ADD", "c1", "p")),
                 6, "non-UTF-8 config");
  expectCniError(bed_.cniRaw("{\xff}", hostileEnv(bed_, "ADD", "c1", "p")), 6, "non-UTF-8 config");
  EXPECT_TRUE(bed_.allocations().empty()) << bed_.allocations().dump();
  EXPECT_TRUE(bed_.hostVeths().empty());
}

TEST_F(CniE2E, ZeroOrMulticastMacIsAnInvalidConfigAndAllocatesNothing) {
  bed_.addPod("p");
  for (const char* mac : {"00:00:00:00:00:00", "01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff"}) {
    auto r = bed_.cni("ADD", "c1", "p", bed_.netConf("1.1.0", {{"runtimeConfig", {{"mac", mac}}}}));
    expectCniError(r, 7, mac);
    EXPECT_NE(r.out.find("runtimeConfig.mac"), std::string::npos) << r.out;
  }
  EXPECT_TRUE(bed_.allocations().empty()) << bed_.allocations().dump();
  EXPECT_TRUE(bed_.hostVeths().empty());
}

// The default route of a pod with several interfaces: in the pod's main table, "dev NAME".
std::string podDefaultRoutes(Testbed& bed, const std::string& pod) {
  return bed.inNs(bed.podNs(pod), "ip -4 route show default | grep -o 'dev [a-z0-9]*'").out;
}

TEST_F(CniE2E, SecondInterfaceOfAPodGetsNoDefaultRouteUnlessConfigured) {
  bed_.addPod("p");
  auto eth0 = bed_.cni("ADD", "c1", "p", bed_.netConf());
  ASSERT_EQ(eth0.exit_code, 0) << eth0.out << eth0.err;
  auto eth1 = bed_.cni("ADD", "c1", "p", bed_.netConf(), "eth1");
  ASSERT_EQ(eth1.exit_code, 0) << eth1.out << eth1.err;
  EXPECT_NE(podIp(eth0), podIp(eth1));
  EXPECT_TRUE(eth1.json()["routes"].empty()) << eth1.out;
  EXPECT_EQ(eth0.json()["routes"][0]["dst"], "0.0.0.0/0") << eth0.out;
  EXPECT_EQ(podDefaultRoutes(bed_, "p"), "dev eth0\n");
  EXPECT_NE(bed_.inNs(bed_.podNs("p"), "ip -4 addr show dev eth1").out.find(podIp(eth1) + "/32"),
            std::string::npos);
  EXPECT_EQ(bed_.allocations().size(), 2u);
  // CHECK expects what each ADD reported.
  for (const auto& [ifname, add] : {std::pair{"eth0", &eth0}, std::pair{"eth1", &eth1}}) {
    auto check =
        bed_.cni("CHECK", "c1", "p", bed_.netConf("1.1.0", {{"prevResult", add->json()}}), ifname);
    EXPECT_EQ(check.exit_code, 0) << ifname << ": " << check.out << check.err;
  }
  // "defaultRoute": true gives a later interface the default route.
  auto eth2 = bed_.cni("ADD", "c1", "p", bed_.netConf("1.1.0", {{"defaultRoute", true}}), "eth2");
  ASSERT_EQ(eth2.exit_code, 0) << eth2.out << eth2.err;
  EXPECT_EQ(eth2.json()["routes"][0]["dst"], "0.0.0.0/0") << eth2.out;
  EXPECT_EQ(podDefaultRoutes(bed_, "p"), "dev eth2\n");
  // "defaultRoute": false gives none, even to the first.
  bed_.addPod("q");
  auto none = bed_.cni("ADD", "c2", "q", bed_.netConf("1.1.0", {{"defaultRoute", false}}));
  ASSERT_EQ(none.exit_code, 0) << none.out << none.err;
  EXPECT_TRUE(none.json()["routes"].empty()) << none.out;
  EXPECT_EQ(podDefaultRoutes(bed_, "q"), "");
  for (const char* ifname : {"eth0", "eth1", "eth2"}) {
    EXPECT_EQ(bed_.cni("DEL", "c1", "p", bed_.netConf(), ifname).exit_code, 0) << ifname;
  }
  EXPECT_EQ(bed_.cni("DEL", "c2", "q", bed_.netConf()).exit_code, 0);
  EXPECT_TRUE(bed_.allocations().empty()) << bed_.allocations().dump();
  EXPECT_TRUE(bed_.hostVethsSettled().empty());
}

TEST_F(CniE2E, GcWithoutValidAttachmentsIsRefusedAndReleasesNothing) {
  bed_.addPod("p");
  auto add = bed_.cni("ADD", "c1", "p", bed_.netConf());
  ASSERT_EQ(add.exit_code, 0) << add.out << add.err;
  auto gc = bed_.cni("GC", "", "", bed_.netConf("1.1.0"));
  expectCniError(gc, 7, "GC without cni.dev/valid-attachments");
  EXPECT_NE(gc.out.find("cni.dev/valid-attachments"), std::string::npos) << gc.out;
  // The GC answered (quasard releases synchronously): nothing was released or removed.
  EXPECT_EQ(bed_.allocations().size(), 1u);
  EXPECT_EQ(bed_.hostVeths().size(), 1u);
  auto check = bed_.cni("CHECK", "c1", "p", bed_.netConf("1.1.0", {{"prevResult", add.json()}}));
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  // An empty list is a real answer: nothing is valid.
  auto empty =
      bed_.cni("GC", "", "", bed_.netConf("1.1.0", {{"cni.dev/valid-attachments", json::array()}}));
  EXPECT_EQ(empty.exit_code, 0) << empty.out << empty.err;
  EXPECT_TRUE(bed_.allocations().empty());
}

TEST_F(CniE2E, CommandsNewerThanTheConfigVersionAreRefused) {
  bed_.addPod("p");
  auto add = bed_.cni("ADD", "c1", "p", bed_.netConf("0.3.1"));
  ASSERT_EQ(add.exit_code, 0) << add.out << add.err;
  const json valid = {{"cni.dev/valid-attachments", json::array()}};
  expectCniError(bed_.cni("GC", "", "", bed_.netConf("1.0.0", valid)), 1, "GC in 1.0.0");
  expectCniError(bed_.cni("STATUS", "", "", bed_.netConf("1.0.0")), 1, "STATUS in 1.0.0");
  expectCniError(bed_.cni("CHECK", "c1", "p", bed_.netConf("0.3.1", {{"prevResult", add.json()}})),
                 1, "CHECK in 0.3.1");
  EXPECT_EQ(bed_.allocations().size(), 1u);  // the refused GC released nothing
  auto check = bed_.cni("CHECK", "c1", "p", bed_.netConf("0.4.0", {{"prevResult", add.json()}}));
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_EQ(bed_.cni("STATUS", "", "", bed_.netConf("1.1.0")).exit_code, 0);
}

// The value of one series in a Prometheus exposition; 0 when it is absent (never moved).
double sampleValue(const std::string& exposition, const std::string& series) {
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return 0;
}

// quasard serves /healthz, /readyz and /metrics on metricsAddress (default 127.0.0.1:9617, the
// node namespace's loopback here); an ADD moves the CNI call counter and latency histogram, and
// promtool accepts the exposition (docs/metrics.md).
TEST_F(CniE2E, ServesHealthReadinessAndMetricsThatCountAnAdd) {
  const std::string promtool = "/var/cache/quasar/promtool/usr/bin/promtool";
  ASSERT_EQ(access(promtool.c_str(), X_OK), 0)
      << promtool << " is missing: run scripts/setup.sh (it unpacks Debian's promtool)";
  auto get = [&](const std::string& path) {
    return bed_.inNs(bed_.nodeNs(),
                     "curl -sS --noproxy '*' --max-time 5 -w '\\n%{http_code}' "
                     "http://127.0.0.1:9617" +
                         path);
  };
  auto health = get("/healthz");
  ASSERT_EQ(health.exit_code, 0) << health.err << bed_.daemonLog();
  EXPECT_EQ(health.out, "ok\n\n200");
  // Ready once the routing agent has reconciled: soon after start.
  auto ready = get("/readyz");
  for (int i = 0; i < 100 && !ready.out.ends_with("\n200"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ready = get("/readyz");
  }
  EXPECT_TRUE(ready.out.ends_with("\n200")) << ready.out;
  EXPECT_NE(ready.out.find("[+]routes ok"), std::string::npos) << ready.out;

  const std::string adds = "quasar_cni_requests_total{command=\"ADD\",result=\"ok\"}";
  const std::string add_count = "quasar_cni_request_duration_seconds_count{command=\"ADD\"}";
  auto before = get("/metrics");
  ASSERT_EQ(before.exit_code, 0) << before.err;
  bed_.addPod("p");
  auto add = bed_.cni("ADD", "c1", "p", bed_.netConf());
  ASSERT_EQ(add.exit_code, 0) << add.out << add.err;
  auto after = get("/metrics");
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(sampleValue(after.out, adds), sampleValue(before.out, adds) + 1) << after.out;
  EXPECT_EQ(sampleValue(after.out, add_count), sampleValue(before.out, add_count) + 1);
  EXPECT_EQ(sampleValue(after.out, "quasar_ipam_pool_addresses_in_use{pool=\"10.244.1.0/24\"}"), 1);
  EXPECT_GE(sampleValue(after.out, "quasar_reconcile_runs_total{agent=\"routing\"}"), 1);
  EXPECT_EQ(sampleValue(after.out, "quasar_watch_synced{kind=\"cluster\"}"), 1);
  EXPECT_GE(
      sampleValue(after.out, "quasar_datastore_requests_total{operation=\"list\",result=\"ok\"}"),
      1);

  auto check = bed_.inNs(bed_.nodeNs(),
                         "curl -sSf --noproxy '*' --max-time 5 "
                         "http://127.0.0.1:9617/metrics | " +
                             promtool + " check metrics");
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

}  // namespace
}  // namespace quasar::tests
