// NetworkPolicy through the real quasard and plugin on the real kernel (label netns): no gap at
// pod start, repair of tampering, enforcement across a quasard crash, explain. The conformance
// suite (tests/netpol/) covers the semantics; this file the agent's guarantees.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

#include "tests/eventually.h"
#include "tests/netns_probe.h"
#include "tests/testbed.h"

namespace quasar::tests {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class PolicyE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    bed_.startDaemon();
    apply(R"(
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: x, labels: {role: client}}
spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: x, labels: {app: web}}
spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: x, labels: {app: api}}
spec: {containers: [{name: c}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-deny-all, namespace: x}
spec: {podSelector: {matchLabels: {app: web}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-from-clients, namespace: x}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress: [{from: [{podSelector: {matchLabels: {role: client}}}], ports: [{port: 8080}]}]
)");
    ASSERT_TRUE(eventually([&] { return policyStatus().value("policies", 0) == 2; }))
        << policyStatus().dump() << bed_.daemonLog();
    client_ = add("client");
  }

  void apply(const std::string& yaml) {
    const std::string file = bed_.dir() + "/objects.yaml";
    std::ofstream(file) << yaml;
    auto r = bed_.ctl("apply -f " + file);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  json policyStatus() {
    auto j = bed_.ctl("-o json policy status").json();
    return j.is_object() ? j : json::object();
  }
  // ADD of x/<pod> in a pod namespace of the same name; returns the address.
  std::string add(const std::string& pod) {
    if (!added_ns_.count(pod)) {
      bed_.addPod(pod);
      added_ns_.insert(pod);
    }
    auto r = bed_.cni("ADD", "c-" + pod, pod, bed_.netConf(), "eth0",
                      {{"CNI_ARGS", "K8S_POD_NAMESPACE=x;K8S_POD_NAME=" + pod}});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err << bed_.daemonLog();
    auto j = r.json();
    if (!j.is_object() || !j.contains("ips")) return "";
    std::string a = j["ips"][0]["address"];
    return a.substr(0, a.find('/'));
  }
  std::string netns(const std::string& pod) { return "/run/netns/" + bed_.podNs(pod); }
  Probe probe(const std::string& ip, int port) {
    return inNetns(netns("client"), [&] { return connectOnce(ip, port); });
  }

  Testbed bed_;
  std::set<std::string> added_ns_;
  std::string client_;
};

// A pod a policy isolates is isolated from the moment its ADD answers: probes in a tight loop
// from then on are all rejected. A pod a policy opens takes the first probe.
TEST_F(PolicyE2E, NoGapAtPodStart) {
  bed_.addPod("web");
  added_ns_.insert("web");
  const int web_listener = listenIn(netns("web"), 8080);
  ASSERT_GE(web_listener, 0);
  const std::string web = add("web");
  ASSERT_FALSE(web.empty());
  std::map<Probe, int> seen = inNetns(netns("client"), [&] {
    std::map<Probe, int> out;
    for (int i = 0; i < 200; ++i) ++out[connectOnce(web, 8080)];
    return out;
  });
  EXPECT_EQ(seen[Probe::kOk], 0);
  EXPECT_EQ(seen[Probe::kRejected], 200)
      << "timeouts " << seen[Probe::kTimeout] << ", errors " << seen[Probe::kError];

  bed_.addPod("api");
  added_ns_.insert("api");
  const int api_listener = listenIn(netns("api"), 8080);
  const std::string api = add("api");
  EXPECT_EQ(name(probe(api, 8080)), std::string("ok"));
  // ... on its port only.
  EXPECT_EQ(name(probe(api, 8081)), std::string("rejected"));
  ::close(web_listener);
  ::close(api_listener);
}

// Someone removes the hook, flushes quasar's chains and sets: all back within the repair
// period, and the isolated pod is isolated again.
TEST_F(PolicyE2E, TamperingIsRepaired) {
  bed_.addPod("web");
  added_ns_.insert("web");
  const int listener = listenIn(netns("web"), 8080);
  const std::string web = add("web");
  ASSERT_EQ(name(probe(web, 8080)), std::string("rejected"));
  auto node = [&](const std::string& cmd) { return bed_.inNs(bed_.nodeNs(), cmd); };
  const auto hooked = [&] {
    return node("iptables -S FORWARD").out.find("-j QUASAR-FORWARD") != std::string::npos;
  };
  ASSERT_TRUE(hooked());
  ASSERT_EQ(node("iptables -D FORWARD -j QUASAR-FORWARD").exit_code, 0);
  ASSERT_FALSE(hooked());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(eventually(hooked, 5s));
  std::cout << "hook back after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - t0)
                   .count()
            << " ms\n";
  // Flush every quasar set and the ingress chain.
  ASSERT_EQ(node("for s in $(ipset list -n | grep '^QSR-'); do ipset flush $s; done").exit_code, 0);
  ASSERT_EQ(node("iptables -F QUASAR-INGRESS").exit_code, 0);
  EXPECT_TRUE(eventually(
      [&] {
        return node("ipset list").out.find(web) != std::string::npos &&
               node("iptables -S QUASAR-INGRESS").out.find("REJECT") != std::string::npos;
      },
      5s))
      << node("iptables-save -t filter").out;
  EXPECT_EQ(name(probe(web, 8080)), std::string("rejected"));
  EXPECT_GE(policyStatus().value("repairs", 0), 2) << policyStatus().dump();
  ::close(listener);
}

// What quasard installed stays while it is down (pods stay isolated), and a new quasard takes
// it over without duplicating hooks.
TEST_F(PolicyE2E, EnforcementSurvivesACrash) {
  bed_.addPod("web");
  added_ns_.insert("web");
  const int listener = listenIn(netns("web"), 8080);
  const std::string web = add("web");
  ASSERT_EQ(name(probe(web, 8080)), std::string("rejected"));
  bed_.stopDaemon(SIGKILL);
  EXPECT_EQ(name(probe(web, 8080)), std::string("rejected"));
  bed_.startDaemon();
  ASSERT_TRUE(eventually([&] { return policyStatus().value("ready", false); })) << bed_.daemonLog();
  EXPECT_EQ(name(probe(web, 8080)), std::string("rejected"));
  const std::string forward = bed_.inNs(bed_.nodeNs(), "iptables -S FORWARD").out;
  size_t hooks = 0;
  for (size_t at = forward.find("-j QUASAR-FORWARD"); at != std::string::npos;
       at = forward.find("-j QUASAR-FORWARD", at + 1)) {
    ++hooks;
  }
  EXPECT_EQ(hooks, 1u) << forward;
  ::close(listener);
}

// An established connection survives a policy change that does not concern it (quasar's chains
// are rewritten, conntrack keeps the flow).
TEST_F(PolicyE2E, EstablishedFlowSurvivesAnUnrelatedPolicyChange) {
  bed_.addPod("api");
  added_ns_.insert("api");
  const int listener = listenIn(netns("api"), 8080);
  const std::string api = add("api");
  const int client = inNetns(netns("client"), [&] {
    const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(8080);
    ::inet_pton(AF_INET, api.c_str(), &a.sin_addr);
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(s);
      return -1;
    }
    return s;
  });
  ASSERT_GE(client, 0) << strerror(errno);
  pollfd p{listener, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  const int server = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(server, 0);
  auto roundTrip = [&](const char* word) {
    if (::send(client, word, strlen(word), MSG_NOSIGNAL) != static_cast<ssize_t>(strlen(word))) {
      return std::string("send failed");
    }
    pollfd in{server, POLLIN, 0};
    if (::poll(&in, 1, 5000) != 1) return std::string("nothing arrived");
    char buf[64] = {};
    const ssize_t n = ::recv(server, buf, sizeof buf - 1, 0);
    return std::string(buf, n > 0 ? n : 0);
  };
  EXPECT_EQ(roundTrip("before"), "before");
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: unrelated, namespace: x}
spec:
  podSelector: {matchLabels: {app: other}}
  ingress: [{ports: [{port: 9}]}]
)");
  ASSERT_TRUE(eventually([&] { return policyStatus().value("policies", 0) == 3; }));
  const std::string chains = bed_.inNs(bed_.nodeNs(), "iptables -S").out;
  ASSERT_EQ(std::count(chains.begin(), chains.end(), '\n') > 0, true);
  EXPECT_EQ(roundTrip("after"), "after");
  ::close(server);
  ::close(client);
  ::close(listener);
}

// Pods come and go while policies are added and deleted from another thread. Afterwards the
// kernel holds exactly what a fresh quasard computes from scratch: a restarted one (kill -9)
// changes nothing in the sets or quasar's rules.
TEST_F(PolicyE2E, ChurnLeavesWhatAFreshStartWouldMake) {
  std::string pods;
  for (int i = 0; i < 6; ++i) {
    pods += "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p" + std::to_string(i) +
            ", namespace: x, labels: {app: " + (i % 2 ? "web" : "api") +
            "}}\nspec: {containers: [{name: c}]}\n";
  }
  apply(pods);
  for (int i = 0; i < 6; ++i) bed_.addPod("p" + std::to_string(i));
  std::atomic<bool> failed{false};
  std::thread churn([&] {
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < 6; ++i) {
        const std::string pod = "p" + std::to_string(i);
        auto r = bed_.cni(round % 2 ? "DEL" : "ADD", "c-" + pod, pod, bed_.netConf(), "eth0",
                          {{"CNI_ARGS", "K8S_POD_NAMESPACE=x;K8S_POD_NAME=" + pod}});
        if (r.exit_code != 0) failed = true;
      }
    }
  });
  for (int i = 0; i < 8; ++i) {
    const std::string file = bed_.dir() + "/churn.yaml";
    std::ofstream(file) << "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
                           "metadata: {name: churn-"
                        << i % 3
                        << ", namespace: x}\n"
                           "spec:\n  podSelector: {matchLabels: {app: "
                        << (i % 2 ? "web" : "api") << "}}\n  ingress: [{ports: [{port: " << 1000 + i
                        << "}]}]\n";
    auto r = bed_.ctl(std::string(i % 4 == 3 ? "delete" : "apply") + " -f " + file);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  churn.join();
  EXPECT_FALSE(failed) << bed_.daemonLog();
  auto kernel = [&] {
    return bed_.inNs(bed_.nodeNs(), "ipset save | grep '^add QSR-' | sort").out + "--\n" +
           bed_.inNs(bed_.nodeNs(), "iptables-save -t filter | grep '^-A QUASAR-' | sort").out;
  };
  // The agent has caught up once it has applied a sync after the last change: a podStarting of
  // a fresh pod waits for exactly that.
  add("sync1");
  const std::string before = kernel();
  bed_.stopDaemon(SIGKILL);
  bed_.startDaemon();
  ASSERT_TRUE(eventually([&] { return policyStatus().value("ready", false); }));
  add("sync2");
  // sync1 and sync2 have no labels: no policy selects them, so neither is in any set.
  EXPECT_EQ(kernel(), before);
  EXPECT_NE(before.find("add QSR-"), std::string::npos) << before;
}

// networkPolicy: false takes away what an earlier run installed: the pod is reachable again.
TEST_F(PolicyE2E, TurningPolicyOffRemovesQuasarsState) {
  bed_.addPod("web");
  added_ns_.insert("web");
  const int listener = listenIn(netns("web"), 8080);
  const std::string web = add("web");
  ASSERT_EQ(name(probe(web, 8080)), std::string("rejected"));
  bed_.stopDaemon(SIGTERM);
  std::ofstream(bed_.dir() + "/quasard.yaml", std::ios::app) << "networkPolicy: false\n";
  bed_.startDaemon();
  EXPECT_EQ(name(probe(web, 8080)), std::string("ok")) << bed_.daemonLog();
  auto node = [&](const std::string& cmd) { return bed_.inNs(bed_.nodeNs(), cmd).out; };
  EXPECT_EQ(node("iptables-save -t filter").find("QUASAR"), std::string::npos);
  EXPECT_EQ(node("ipset list -n").find("QSR-"), std::string::npos);
  auto explain = bed_.ctl("policy explain --from x/client --to x/web --port 8080/TCP");
  EXPECT_NE(explain.exit_code, 0);
  EXPECT_NE(explain.err.find("networkPolicy: false"), std::string::npos) << explain.err;
  ::close(listener);
}

TEST_F(PolicyE2E, ExplainSaysWhy) {
  add("web");
  add("api");
  auto denied = bed_.ctl("policy explain --from x/client --to x/web --port 8080/TCP");
  EXPECT_EQ(denied.exit_code, 0) << denied.err;
  EXPECT_NE(denied.out.find("denied"), std::string::npos) << denied.out;
  EXPECT_NE(denied.out.find("x/web-deny-all"), std::string::npos) << denied.out;
  auto allowed =
      bed_.ctl("-o json policy explain --from x/client --to x/api --port 8080/TCP").json();
  ASSERT_TRUE(allowed.is_object());
  EXPECT_TRUE(allowed["allowed"].get<bool>()) << allowed.dump();
  EXPECT_EQ(allowed["ingress"]["allowedBy"][0]["name"], "api-from-clients") << allowed.dump();
  auto unknown = bed_.ctl("policy explain --from x/client --to x/nope --port 80");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("x/nope"), std::string::npos) << unknown.err;
  auto bad = bed_.ctl("policy explain --from x/client --to x/api --port 80/ICMP");
  EXPECT_NE(bad.exit_code, 0);
}

}  // namespace
}  // namespace quasar::tests
