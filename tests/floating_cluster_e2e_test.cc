// Floating IPs across nodes end to end (issue 13; label netns, needs root): the cluster bed
// (tests/cluster_bed.h: etcd and three quasard nodes on a bridge, 10.99.N.0/24) plus a "legacy"
// host on the same bridge that runs no quasar. A FloatingIPPool on the bridge's subnet and bare
// Pod objects are applied with quasarctl on one node (they live in etcd, every node sees them);
// the real plugin attaches pods with CNI_ARGS naming the Kubernetes pod.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/eventually.h"
#include "tests/cluster_bed.h"

namespace quasar::tests {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Annotations = std::map<std::string, std::string>;

const Annotations kFloating = {{"quasar.io/floating-ip", "true"}};
const Annotations kImmutable = {{"quasar.io/floating-ip", "true"},
                                {"quasar.io/release-policy", "immutable"}};

// Polls `cond` every 20 ms until it holds or `limit` passed; returns its last value.

class FloatingCluster : public ClusterBed {
 protected:
  static constexpr int kLegacy = 200;  // the legacy host's address on the bridge
  static constexpr int kFirst = 50;    // the pool hands out .50 - .59
  static constexpr int kLast = 59;

  void SetUp() override {
    // Housekeeping (what a crash or a moved pod left) every 0.5 s rather than 10 s.
    node_extra_ = "floatingHousekeepingSeconds: 0.5\n";
    ClusterBed::SetUp();
    if (HasFatalFailure()) return;
    attach("legacy", kLegacy);
  }

  std::string lanIp(int host) const { return subnet_ + "." + std::to_string(host); }
  bool inPool(const std::string& ip) const {
    for (int h = kFirst; h <= kLast; ++h) {
      if (ip == lanIp(h)) return true;
    }
    return false;
  }

  // The pool "lan" (gateway .254, kFirst-kLast) and bare pods in namespace default, applied on
  // n1; returns once every node's view has the pool and every pod.
  void applyPoolAndPods(const std::vector<std::string>& pods, const Annotations& annotations) {
    json list = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", json::array()}};
    for (const auto& name : pods) {
      json pod = {{"apiVersion", "v1"},
                  {"kind", "Pod"},
                  {"metadata", {{"name", name}, {"namespace", "default"}}},
                  {"spec", {{"containers", {{{"name", "c"}, {"image", "x"}}}}}}};
      for (const auto& [k, v] : annotations) pod["metadata"]["annotations"][k] = v;
      list["items"].push_back(pod);
    }
    const std::string file = dir_ + "/objects.yaml";
    std::ofstream(file) << "apiVersion: quasar.io/v1\nkind: FloatingIPPool\nmetadata: {name: lan}\n"
                        << "spec:\n  subnet: " << subnet_ << ".0/24\n  gateway: " << subnet_
                        << ".254\n  ranges: [\"" << lanIp(kFirst) << "-" << lanIp(kLast)
                        << "\"]\n---\n"
                        << list.dump() << "\n";
    auto r = ctl(1, "apply -f " + file);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    for (int i = 1; i <= kNodes; ++i) {
      EXPECT_TRUE(eventually([&] {
        auto p = ctl(i, "-o json fip pools").json();
        if (!p.is_array() || p.size() != 1 || p[0].value("name", "") != "lan") return false;
        auto got = ctl(i, "get pods -n default -o json").json();
        if (!got.is_object()) return false;
        std::set<std::string> names;
        for (const auto& o : got.value("items", json::array())) {
          names.insert(o["metadata"].value("name", ""));
        }
        return names == std::set<std::string>(pods.begin(), pods.end());
      })) << "n"
          << i << " does not see the pool and the pods: " << ctl(i, "fip pools").out;
    }
  }

  static std::map<std::string, std::string> podEnv(const std::string& pod) {
    return {{"CNI_ARGS", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=" + pod}};
  }

  // Every lease of the cluster (any node answers the same).
  json leases(int i = 1) {
    auto j = ctl(i, "-o json fip list").json();
    return j.is_array() ? j : json::array();
  }
  // Bound leases: ip -> pod name.
  std::map<std::string, std::string> boundLeases(int i = 1) {
    std::map<std::string, std::string> out;
    for (const auto& l : leases(i)) {
      if (l.value("state", "") != "bound") continue;
      const std::string pod = l.contains("pod") ? l["pod"].value("name", "") : "";
      EXPECT_TRUE(out.emplace(l.value("ip", ""), pod).second) << "two leases " << l.dump();
    }
    return out;
  }

  // Node i's allocations: container id -> addresses (prefix length stripped).
  std::map<std::string, std::vector<std::string>> allocations(int i) {
    std::map<std::string, std::vector<std::string>> out;
    auto j = ctl(i, "-o json ipam list").json();
    EXPECT_TRUE(j.is_array()) << "n" << i << ": " << ctl(i, "ipam list").err;
    if (!j.is_array()) return out;
    for (const auto& a : j) {
      auto& ips = out[a.value("containerID", "")];
      for (const auto& ip : a.value("ips", json::array())) {
        const std::string s = ip.get<std::string>();
        ips.push_back(s.substr(0, s.find('/')));
      }
    }
    return out;
  }

  // quasar's host-side veths in node i.
  size_t hostVeths(int i) {
    auto r = inNs("n" + std::to_string(i), "ip -o link show type veth");
    size_t n = 0;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
      const auto colon = line.find(": ");
      if (colon != std::string::npos && line.compare(colon + 2, 3, "qsr") == 0) ++n;
    }
    return n;
  }

  bool proxyNeighbour(int i, const std::string& ip) {
    auto r = inNs("n" + std::to_string(i), "ip neigh show proxy");
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(ip + " ", 0) == 0) return true;
    }
    return false;
  }

  bool ping(const std::string& from_ns, const std::string& ip) {
    return inNs(from_ns, "ping -c1 -W1 " + ip + " >/dev/null").exit_code == 0;
  }

  // ADDs pod `pod` (container and pod namespace `container`) on node i while the legacy host
  // pings `x` every 5 ms (each answer stamped with the wall clock, -D). Returns the ms from the
  // ADD returning to the first answer (negative: before it; the plugin announces before its
  // last step), nullopt when none came within 5 s. The ADD's result goes to *add.
  std::optional<double> addTimingFirstAnswer(int i, const std::string& container,
                                             const std::string& pod, const std::string& x,
                                             CmdResult* add) {
    if (!makePodNs(container)) return std::nullopt;
    const std::string ping_log = dir_ + "/ping-" + container + ".log";
    pids_["ping"] = spawnBackground({"ip", "netns", "exec", ns("legacy"), "/bin/sh", "-c",
                                     "exec ping -D -n -i 0.005 " + x + " >" + ping_log},
                                    dir_ + "/ping.err");
    *add = addIn(i, container, container, podEnv(pod));
    const double add_returned =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    // The first answer's stamp.
    auto first_answer = [&]() -> std::optional<double> {
      std::ifstream in(ping_log);
      for (std::string line; std::getline(in, line);) {
        if (line.size() > 1 && line[0] == '[' && line.find("bytes from") != std::string::npos) {
          return std::stod(line.substr(1, line.find(']') - 1));
        }
      }
      return std::nullopt;
    };
    std::optional<double> answered;
    const bool reached = add->exit_code == 0 && eventually(
                                                    [&] {
                                                      answered = first_answer();
                                                      return answered.has_value();
                                                    },
                                                    5s);
    killServer("ping");
    if (!reached) return std::nullopt;
    return (*answered - add_returned) * 1000;
  }
};

// The legacy host reaches a pod's floating IP on n1; the pod (immutable, its own workload) is
// deleted there and created again on n2 under a new container and namespace: it gets the same
// address, only n2 proxies it, and the legacy host's pings are answered again within 1 s of the
// ADD returning (its ARP cache still names n1 until n2's gratuitous ARP).
TEST_F(FloatingCluster, ImmutablePodMovesToAnotherNodeAndIsReachedAtOnce) {
  applyPoolAndPods({"mover"}, kImmutable);
  auto first = add(1, "mv1", podEnv("mover"));
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err << nodeLog(1);
  const std::string x = ipOf(first);
  ASSERT_TRUE(inPool(x)) << first.out;
  EXPECT_TRUE(ping("legacy", x)) << "legacy host -> " << x << " on n1";
  EXPECT_TRUE(proxyNeighbour(1, x));

  ASSERT_EQ(del(1, "mv1", podEnv("mover")).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return !proxyNeighbour(1, x); }))
      << "n1 still proxies " << x << ": " << inNs("n1", "ip neigh show proxy").out;
  // The address stays the workload's, unbound, while the pod is away.
  bool kept = false;
  for (const auto& l : leases())
    kept |= l.value("ip", "") == x && l.value("state", "") == "unbound";
  EXPECT_TRUE(kept) << leases().dump();

  CmdResult second;
  const auto moved = addTimingFirstAnswer(2, "mv2", "mover", x, &second);
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err << nodeLog(2);
  EXPECT_EQ(ipOf(second), x) << "the immutable pod did not get its address back on n2";
  ASSERT_TRUE(moved.has_value()) << "the legacy host never reached " << x << " on n2";
  const double move_ms = *moved;
  std::printf("move: legacy host's first answer %.1f ms after the ADD on n2 returned\n", move_ms);
  RecordProperty("move_ms", std::to_string(std::max(0.0, move_ms)));
  EXPECT_LT(move_ms, 1000);

  EXPECT_TRUE(proxyNeighbour(2, x)) << inNs("n2", "ip neigh show proxy").out;
  // n2 knows the pod's MAC without asking (an ARP on a veth the kernel has not activated yet is
  // lost, and the next comes 1 s later: this test then measured ~1 s about every other run).
  EXPECT_NE(inNs("n2", "ip neigh show " + x + " nud permanent").out.find("lladdr"),
            std::string::npos)
      << inNs("n2", "ip neigh").out;
  EXPECT_FALSE(proxyNeighbour(1, x)) << inNs("n1", "ip neigh show proxy").out;
  EXPECT_EQ(boundLeases(3), (std::map<std::string, std::string>{{x, "mover"}}));
  bool on_n2 = false;
  for (const auto& l : leases(3)) on_n2 |= l.value("ip", "") == x && l.value("node", "") == "n2";
  EXPECT_TRUE(on_n2) << leases(3).dump();

  // What a crash between n1's release and its cleanup would leave: a proxy entry of quasar's
  // (protocol 113) for X on n1. n1's housekeeping removes it: X lives on n2 now.
  // (Not checked to be there first: n1 may remove it before the check, as CI once saw.)
  ASSERT_EQ(inNs("n1", "ip neigh add proxy " + x + " dev up0 proto 113").exit_code, 0);
  EXPECT_TRUE(eventually([&] { return !proxyNeighbour(1, x); }, 10s))
      << inNs("n1", "ip neigh show proxy").out << nodeLog(1);
  EXPECT_TRUE(proxyNeighbour(2, x)) << "n2's own entry must stay";
}

// A floating pod on n1, an overlay (pod-CIDR) pod on every node and the three nodes: each one
// reaches every other one.
TEST_F(FloatingCluster, FloatingPodsOverlayPodsAndNodesReachOneAnother) {
  applyPoolAndPods({"float"}, kFloating);
  std::map<std::string, std::string> ip;  // endpoint (its namespace's short name) -> address
  auto f = add(1, "float", podEnv("float"));
  ASSERT_EQ(f.exit_code, 0) << f.out << f.err << nodeLog(1);
  ip["float"] = ipOf(f);
  ASSERT_TRUE(inPool(ip["float"])) << f.out;
  for (int i = 1; i <= kNodes; ++i) {
    const std::string pod = "ov" + std::to_string(i);
    auto r = add(i, pod);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    ip[pod] = ipOf(r);
    ASSERT_EQ(ip[pod].rfind("10.244.", 0), 0u) << r.out;
    ip["n" + std::to_string(i)] = lanIp(i);
  }
  // Routes between the nodes' blocks converge first: wait until each overlay pod reaches the
  // next node's.
  for (int i = 1; i <= kNodes; ++i) {
    const std::string from = "ov" + std::to_string(i), to = "ov" + std::to_string(i % kNodes + 1);
    EXPECT_TRUE(eventually([&] { return ping(from, ip[to]); }, 10s))
        << from << " -> " << to << ": " << inNs("n" + std::to_string(i), "ip route").out;
  }
  std::vector<std::string> failed;
  for (const auto& [from, from_ip] : ip) {
    for (const auto& [to, to_ip] : ip) {
      if (from != to && !ping(from, to_ip)) failed.push_back(from + " -> " + to + " " + to_ip);
    }
  }
  std::string all;
  for (const auto& f : failed) all += "\n  " + f;
  EXPECT_TRUE(failed.empty()) << failed.size() << " of " << ip.size() * (ip.size() - 1)
                              << " pairs do not reach each other:" << all;
  // And the legacy host reaches the floating pod, not the overlay pods' network (no route).
  EXPECT_TRUE(ping("legacy", ip["float"]));
}

// Three daemons race 30 pods for the pool's 10 addresses, 10 ADDs on each node at once: exactly
// 10 succeed, each with its own address, and the cluster's leases say the same; the other 20
// fail with 106 (pools full) and leave no veth, no interface in the pod and no allocation.
TEST_F(FloatingCluster, ThreeDaemonsRaceThirtyPodsForTenAddresses) {
  std::vector<std::string> pods;
  for (int k = 0; k < 30; ++k) pods.push_back("race" + std::to_string(k));
  applyPoolAndPods(pods, kFloating);
  for (const auto& p : pods) ASSERT_TRUE(makePodNs(p));
  std::vector<CmdResult> results(pods.size());
  {
    std::vector<std::thread> threads;
    for (size_t k = 0; k < pods.size(); ++k) {
      threads.emplace_back(
          [&, k] { results[k] = addIn(int(k % kNodes) + 1, pods[k], pods[k], podEnv(pods[k])); });
    }
    for (auto& t : threads) t.join();
  }
  std::map<std::string, std::string> winners;   // ip -> pod
  std::map<int, std::set<std::string>> won_on;  // node -> containers
  int full = 0;
  for (size_t k = 0; k < pods.size(); ++k) {
    const auto& r = results[k];
    if (r.exit_code == 0) {
      EXPECT_TRUE(inPool(ipOf(r))) << r.out;
      EXPECT_TRUE(winners.emplace(ipOf(r), pods[k]).second)
          << ipOf(r) << " given to " << winners[ipOf(r)] << " and " << pods[k];
      won_on[int(k % kNodes) + 1].insert(pods[k]);
      continue;
    }
    EXPECT_EQ(cniCode(r), 106) << pods[k] << ": " << r.out << r.err;
    full += cniCode(r) == 106;
    auto j = r.json();
    EXPECT_NE(j.value("msg", ""), "") << r.out;
    EXPECT_EQ(inNs(pods[k], "ip -o link show").out.find("eth0"), std::string::npos)
        << pods[k] << " kept its interface";
  }
  EXPECT_EQ(winners.size(), 10u);
  EXPECT_EQ(full, 20);
  EXPECT_EQ(boundLeases(2), winners) << leases(2).dump();
  for (int i = 1; i <= kNodes; ++i) {
    // A failed ADD removes its veth before it returns; a stray one keeps the count high.
    EXPECT_TRUE(eventually([&] { return hostVeths(i) == won_on[i].size(); }))
        << "n" << i << " has " << hostVeths(i) << " veths for " << won_on[i].size() << " pods";
    std::set<std::string> held;
    for (const auto& [container, ips] : allocations(i)) {
      held.insert(container);
      for (const auto& a : ips) EXPECT_EQ(winners.count(a), 1u) << "n" << i << " holds " << a;
    }
    EXPECT_EQ(held, won_on[i]) << "n" << i;
  }
}

// kill -9 of n1's quasard while a burst of floating ADDs runs on it, then a restart: kubelet
// DELs every pod (DEL is idempotent), after which no lease of them stays held (policy release),
// and the pods ADDed again each get an address of their own. Before the DELs no address is held
// by two pods either.
TEST_F(FloatingCluster, DaemonKilledMidAllocationLeaksNothingAndGivesNoAddressTwice) {
  constexpr int kPods = 10;  // the whole pool: after the DELs, a leaked lease fails an ADD
  std::vector<std::string> pods;
  for (int k = 0; k < kPods; ++k) pods.push_back("crash" + std::to_string(k));
  applyPoolAndPods(pods, kFloating);
  for (const auto& p : pods) ASSERT_TRUE(makePodNs(p));
  std::atomic<int> done{0};
  std::vector<CmdResult> results(kPods);
  std::vector<std::thread> threads;
  for (int k = 0; k < kPods; ++k) {
    threads.emplace_back([&, k] {
      results[k] = addIn(1, pods[k], pods[k], podEnv(pods[k]));
      ++done;
    });
  }
  // Killed as soon as the first ADD is through: the others are in flight.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (done == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  const int done_at_kill = done;
  const bool started = done_at_kill > 0;
  killServer("n1");
  for (auto& t : threads) t.join();
  ASSERT_TRUE(started);
  int succeeded = 0;
  for (const auto& r : results) succeeded += r.exit_code == 0;
  std::printf("kill -9: %d of %d ADDs had returned, %d succeeded\n", done_at_kill, kPods,
              succeeded);
  EXPECT_LT(done_at_kill, kPods) << "the kill came after the burst";
  startNode(1);
  if (HasFatalFailure()) return;

  // No address held twice: every address n1 holds is bound to that pod in the cluster, once.
  const auto bound = boundLeases(2);
  std::set<std::string> held;
  for (const auto& [container, ips] : allocations(1)) {
    for (const auto& a : ips) {
      EXPECT_TRUE(held.insert(a).second) << a << " held twice on n1";
      ASSERT_TRUE(bound.contains(a))
          << a << " of " << container << " has no lease: " << leases(2).dump();
      EXPECT_EQ(bound.at(a), container) << a;
    }
  }
  for (int k = 0; k < kPods; ++k) {
    auto r = del(1, pods[k], podEnv(pods[k]));
    EXPECT_EQ(r.exit_code, 0) << pods[k] << ": " << r.out << r.err;
  }
  // A claim the crash cut off before n1 recorded it is released by n1's housekeeping, the
  // others by the DELs.
  auto held_by_crash_pods = [&] {
    std::vector<std::string> out;
    for (const auto& l : leases(2)) {
      const std::string state = l.value("state", "");
      if ((state == "bound" || state == "unbound") && l.contains("pod") &&
          l["pod"].value("name", "").rfind("crash", 0) == 0) {
        out.push_back(l.dump());
      }
    }
    return out;
  };
  EXPECT_TRUE(eventually([&] { return held_by_crash_pods().empty(); }, 30s))
      << "leaked: " << held_by_crash_pods().size() << " " << leases(2).dump() << nodeLog(1);
  EXPECT_TRUE(allocations(1).empty());
  EXPECT_TRUE(eventually([&] { return hostVeths(1) == 0; })) << hostVeths(1);

  // ADDed again (new sandboxes, as kubelet would): every pod gets an address, no two the same.
  std::map<std::string, std::string> again;
  for (int k = 0; k < kPods; ++k) {
    const std::string c = pods[k] + "b";
    auto r = add(1, c, podEnv(pods[k]));
    ASSERT_EQ(r.exit_code, 0) << c << ": " << r.out << r.err << nodeLog(1);
    EXPECT_TRUE(again.emplace(ipOf(r), pods[k]).second) << ipOf(r) << " given twice";
  }
  EXPECT_EQ(boundLeases(3), again) << leases(3).dump();
}

// etcd stopped (SIGSTOP: connections hang, as in a partition): a floating ADD fails with code 11
// (try again later) and a readable message, and leaves no interface, veth or allocation; once
// etcd continues, the same ADD succeeds.
TEST_F(FloatingCluster, EtcdDownFailsWithTryAgainLaterThenTheSameAddSucceeds) {
  applyPoolAndPods({"calm", "stormy"}, kFloating);
  auto calm = add(1, "calm", podEnv("calm"));
  ASSERT_EQ(calm.exit_code, 0) << calm.out << calm.err;
  ASSERT_TRUE(makePodNs("stormy"));
  ASSERT_EQ(kill(pids_["etcd"], SIGSTOP), 0);
  const auto t0 = std::chrono::steady_clock::now();
  auto down = addIn(2, "stormy", "stormy", podEnv("stormy"));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("etcd down: ADD failed after %.2f s: %s\n", took, down.out.c_str());
  RecordProperty("etcd_down_add_seconds", std::to_string(took));
  EXPECT_NE(down.exit_code, 0) << down.out;
  EXPECT_EQ(cniCode(down), 11) << down.out << down.err;
  const std::string msg = down.json().is_object() ? down.json().value("msg", "") : "";
  EXPECT_NE(msg.find("the cluster datastore did not answer"), std::string::npos) << msg;
  EXPECT_EQ(inNs("stormy", "ip -o link show").out.find("eth0"), std::string::npos);
  EXPECT_EQ(hostVeths(2), 0u);
  EXPECT_TRUE(allocations(2).empty());
  ASSERT_EQ(kill(pids_["etcd"], SIGCONT), 0);
  auto up = addIn(2, "stormy", "stormy", podEnv("stormy"));
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err << nodeLog(2);
  EXPECT_TRUE(inPool(ipOf(up))) << up.out;
  EXPECT_NE(ipOf(up), ipOf(calm));
  EXPECT_TRUE(ping("legacy", ipOf(up)));
  EXPECT_EQ(boundLeases(3),
            (std::map<std::string, std::string>{{ipOf(calm), "calm"}, {ipOf(up), "stormy"}}));
}

// The move-time benchmark (scripts/bench-floating.sh runs it; not part of the suite): an
// `immutable` pod moved QUASAR_MOVES times (default 20) back and forth between n1 and n2, each
// time DELeted on one and ADDed on the other while the legacy host pings it every 5 ms. Prints
// one JSON line with every figure, the median and the p99; fails if any move got no answer.
TEST_F(FloatingCluster, DISABLED_MoveTimeBenchmark) {
  const char* env = getenv("QUASAR_MOVES");
  const int moves = env ? std::max(1, atoi(env)) : 20;
  applyPoolAndPods({"mover"}, kImmutable);
  auto first = add(1, "bm0", podEnv("mover"));
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err << nodeLog(1);
  const std::string x = ipOf(first);
  std::string container = "bm0";
  int node = 1;
  std::vector<double> ms;
  for (int m = 1; m <= moves; ++m) {
    ASSERT_EQ(del(node, container, podEnv("mover")).exit_code, 0);
    node = node == 1 ? 2 : 1;
    container = "bm" + std::to_string(m);
    CmdResult r;
    auto t = addTimingFirstAnswer(node, container, "mover", x, &r);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err << nodeLog(node);
    ASSERT_EQ(ipOf(r), x);
    ASSERT_TRUE(t.has_value()) << "move " << m << ": no answer within 5 s";
    ms.push_back(*t);
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  const double p99 = sorted[std::min(sorted.size() - 1, sorted.size() * 99 / 100)];
  std::printf("MOVE_BENCH %s\n", json({{"moves", moves},
                                       {"ms", ms},
                                       {"median_ms", median},
                                       {"p99_ms", p99},
                                       {"max_ms", sorted.back()}})
                                     .dump()
                                     .c_str());
  EXPECT_LT(p99, 1000);
}

}  // namespace
}  // namespace quasar::tests
