// PolicyAgent over the in-memory kernel: syncs from the view, no gap at pod start, repair,
// failure and explain.

#include "daemon/agents/policy_agent.h"

#include <gtest/gtest.h>

#include <functional>
#include <mutex>
#include <thread>

#include "daemon/agents/driven_source.h"
#include "netpolicy/kernel/fake_policy_kernel.h"

namespace quasar::daemon {
namespace {

using nlohmann::json;
using objects::Kind;
using Clock = std::chrono::steady_clock;
using netpolicy::testing::FakePolicyKernel;

using Source = testing::DrivenSource;

// The fake kernel behind a lock: the agent's worker and the test both use it.
class LockedKernel : public netpolicy::PolicyKernel {
 public:
  absl::StatusOr<std::vector<netpolicy::KernelSet>> listSets() override {
    std::lock_guard l(mu_);
    return fake_.listSets();
  }
  absl::StatusOr<std::vector<netpolicy::SetEntry>> readSet(const std::string& name) override {
    std::lock_guard l(mu_);
    return fake_.readSet(name);
  }
  absl::Status changeSets(const std::vector<netpolicy::SetOp>& ops) override {
    std::lock_guard l(mu_);
    return fake_.changeSets(ops);
  }
  absl::StatusOr<netpolicy::FilterState> readFilter(conf::Family family) override {
    std::lock_guard l(mu_);
    return fake_.readFilter(family);
  }
  absl::StatusOr<std::map<std::string, int>> readHooks(conf::Family family) override {
    std::lock_guard l(mu_);
    return fake_.readHooks(family);
  }
  absl::Status restoreFilter(conf::Family family, const std::string& input) override {
    std::lock_guard l(mu_);
    return fake_.restoreFilter(family, input);
  }
  absl::StatusOr<uint64_t> filterGeneration() override {
    std::lock_guard l(mu_);
    return fake_.filterGeneration();
  }
  template <class F>
  auto with(F&& f) {
    std::lock_guard l(mu_);
    return f(fake_);
  }

 private:
  std::mutex mu_;
  FakePolicyKernel fake_;
};

json pod(const std::string& ns, const std::string& name, json labels, const std::string& ip) {
  json p = {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"namespace", ns}, {"labels", std::move(labels)}}},
            {"spec", {{"nodeName", "n1"}, {"containers", {{{"name", "c"}}}}}}};
  if (!ip.empty()) p["status"] = {{"phase", "Running"}, {"podIPs", {{{"ip", ip}}}}};
  return p;
}

json denyAll(const std::string& ns) {
  return {{"apiVersion", "networking.k8s.io/v1"},
          {"kind", "NetworkPolicy"},
          {"metadata", {{"name", "deny"}, {"namespace", ns}}},
          {"spec", {{"podSelector", json::object()}}}};
}

bool eventually(const std::function<bool()>& f) {
  const auto until = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return f();
}

conf::IpAddress ip(const std::string& s) { return *conf::IpAddress::parse(s); }

class PolicyAgentTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(view_.start().ok()); }
  void TearDown() override { agent_.stop(); }
  void syncView(std::vector<json> pods = {}, std::vector<json> policies = {}) {
    source_.sink_->replace(Kind::kNode, {});
    source_.sink_->replace(Kind::kNamespace, {});
    source_.sink_->replace(Kind::kQuasarNetworkPolicy, {});
    source_.sink_->replace(Kind::kPod, std::move(pods));
    source_.sink_->replace(Kind::kNetworkPolicy, std::move(policies));
  }
  // Whether any of quasar's sets holds `member`.
  bool inSomeSet(const std::string& member) {
    return kernel_.with([&](FakePolicyKernel& k) {
      for (const auto& [name, set] : k.sets) {
        for (const auto& e : set.entries) {
          if (e.text == member) return true;
        }
      }
      return false;
    });
  }
  bool hasChainPrefix(const std::string& prefix) {
    return kernel_.with([&](FakePolicyKernel& k) {
      for (const auto& [name, rules] : k.tables[conf::Family::kV4].chains) {
        if (name.rfind(prefix, 0) == 0) return true;
      }
      return false;
    });
  }

  Source source_;
  ObjectView view_{source_};
  LockedKernel kernel_;
  netpolicy::Applier applier_{kernel_};
  PolicyAgent agent_{view_, applier_, {{"n1", {ip("10.250.0.2")}}, std::chrono::milliseconds(50)}};
};

// Nothing is programmed from a view that has not listed everything: a pod's ADD waits, then
// fails (try again) rather than answer unisolated.
TEST_F(PolicyAgentTest, NothingAppliedBeforeTheViewSyncs) {
  agent_.start();
  auto s = agent_.podStarting("c1/eth0", {"x", "a", {ip("10.244.1.2")}, nullptr},
                              std::chrono::milliseconds(200));
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_EQ(kernel_.with([](FakePolicyKernel& k) { return k.writes(); }), 0);
  syncView();
  EXPECT_TRUE(eventually([&] { return agent_.stats().ready; }));
  EXPECT_TRUE(hasChainPrefix("QUASAR-FORWARD"));
}

// No gap: when podStarting returns, the pod's address is in the set of the policy isolating
// it, although the view has never seen the pod's address.
TEST_F(PolicyAgentTest, PodIsolatedBeforeItsAddReturns) {
  syncView({pod("x", "a", {{"app", "a"}}, "")}, {denyAll("x")});
  agent_.start();
  ASSERT_TRUE(eventually([&] { return agent_.stats().ready; }));
  EXPECT_TRUE(hasChainPrefix("QUASAR-I-"));
  EXPECT_FALSE(inSomeSet("10.244.1.2"));
  auto s = agent_.podStarting("c1/eth0", {"x", "a", {ip("10.244.1.2")}, nullptr},
                              std::chrono::seconds(5));
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(inSomeSet("10.244.1.2"));
  // Released: out of the sets with the next sync.
  agent_.podStopped("c1/eth0");
  EXPECT_TRUE(eventually([&] { return !inSomeSet("10.244.1.2"); }));
}

// The ADD's two steps: podStarting() alone has the worker apply the pod (while the ADD's thread
// commits the address), and awaitApplied() then finds it done.
TEST_F(PolicyAgentTest, WorkerAppliesAStartingPodBeforeAnyoneWaits) {
  syncView({pod("x", "a", {{"app", "a"}}, "")}, {denyAll("x")});
  agent_.start();
  ASSERT_TRUE(eventually([&] { return agent_.stats().ready; }));
  const uint64_t generation = agent_.podStarting("c1/eth0", {"x", "a", {ip("10.244.1.2")}, nullptr});
  EXPECT_TRUE(eventually([&] { return inSomeSet("10.244.1.2"); }));
  auto s = agent_.awaitApplied(generation, std::chrono::milliseconds(0));
  EXPECT_TRUE(s.ok()) << s;
}

// Policies follow the view: added, then deleted.
TEST_F(PolicyAgentTest, FollowsPolicyChanges) {
  syncView({pod("x", "a", {{"app", "a"}}, "10.244.1.2")});
  agent_.start();
  ASSERT_TRUE(eventually([&] { return agent_.stats().ready; }));
  EXPECT_FALSE(hasChainPrefix("QUASAR-I-"));
  source_.sink_->event(Kind::kNetworkPolicy, ObjectEventType::kAdded, denyAll("x"));
  EXPECT_TRUE(eventually([&] { return hasChainPrefix("QUASAR-I-") && inSomeSet("10.244.1.2"); }));
  source_.sink_->event(Kind::kNetworkPolicy, ObjectEventType::kDeleted, denyAll("x"));
  EXPECT_TRUE(eventually([&] { return !hasChainPrefix("QUASAR-I-"); }));
  EXPECT_EQ(agent_.stats().policies, 0u);
}

// Someone flushes a set and deletes a hook: the next repair puts both back.
TEST_F(PolicyAgentTest, RepairsTampering) {
  syncView({pod("x", "a", {{"app", "a"}}, "10.244.1.2")}, {denyAll("x")});
  agent_.start();
  ASSERT_TRUE(eventually([&] { return agent_.stats().ready && inSomeSet("10.244.1.2"); }));
  kernel_.with([](FakePolicyKernel& k) {
    for (auto& [name, set] : k.sets) k.flushSet(name);
    k.removeHook(conf::Family::kV4, "QUASAR-FORWARD");
    return 0;
  });
  EXPECT_FALSE(inSomeSet("10.244.1.2"));
  EXPECT_TRUE(eventually([&] {
    return inSomeSet("10.244.1.2") && kernel_.with([](FakePolicyKernel& k) {
      for (const auto& r : k.rules(conf::Family::kV4, "FORWARD")) {
        if (r == "-j QUASAR-FORWARD") return true;
      }
      return false;
    });
  }));
  EXPECT_GE(agent_.stats().repairs, 1u);
}

// The name of quasar's policy chain (deny-all in x).
std::string policyChain(FakePolicyKernel& k) {
  for (const auto& [name, rules] : k.tables[conf::Family::kV4].chains) {
    if (name.rfind("QUASAR-I-", 0) == 0) return name;
  }
  return "";
}

// With a filter generation (nftables) no tick reads the whole filter table while nothing
// changes it; a flushed policy chain moves it and is rewritten by the next tick.
TEST_F(PolicyAgentTest, GenerationReadsTheTableOnlyAfterAChange) {
  syncView({pod("x", "a", {{"app", "a"}}, "10.244.1.2")}, {denyAll("x")});
  agent_.start();
  ASSERT_TRUE(eventually([&] { return agent_.stats().ready && inSomeSet("10.244.1.2"); }));
  auto ticks = [&] { return kernel_.with([](FakePolicyKernel& k) { return k.hook_reads; }); };
  auto reads = [&] { return kernel_.with([](FakePolicyKernel& k) { return k.filter_reads; }); };
  // Two ticks: the first after the sync learns the chains' kernel text.
  int t0 = ticks();
  ASSERT_TRUE(eventually([&] { return ticks() >= t0 + 2; }));
  const int r0 = reads();
  t0 = ticks();
  ASSERT_TRUE(eventually([&] { return ticks() >= t0 + 6; }));
  EXPECT_EQ(reads(), r0);

  const std::string chain = kernel_.with([](FakePolicyKernel& k) { return policyChain(k); });
  ASSERT_FALSE(chain.empty());
  const auto good =
      kernel_.with([&](FakePolicyKernel& k) { return k.rules(conf::Family::kV4, chain); });
  ASSERT_FALSE(good.empty());
  kernel_.with([&](FakePolicyKernel& k) {
    k.flushChain(conf::Family::kV4, chain);
    return 0;
  });
  EXPECT_TRUE(eventually([&] {
    return kernel_.with([&](FakePolicyKernel& k) { return k.rules(conf::Family::kV4, chain); }) ==
           good;
  }));
  EXPECT_GE(agent_.stats().repairs, 1u);
}

// No generation (it cannot be read): the full comparison on its own clock.
TEST_F(PolicyAgentTest, WithoutAGenerationTheFullRepairStaysPeriodic) {
  kernel_.with([](FakePolicyKernel& k) { return k.no_generation = true; });
  syncView({pod("x", "a", {{"app", "a"}}, "10.244.1.2")}, {denyAll("x")});
  agent_.start();
  ASSERT_TRUE(eventually([&] { return agent_.stats().ready && inSomeSet("10.244.1.2"); }));
  const std::string chain = kernel_.with([](FakePolicyKernel& k) { return policyChain(k); });
  ASSERT_FALSE(chain.empty());
  const int r0 = kernel_.with([](FakePolicyKernel& k) { return k.filter_reads; });
  EXPECT_TRUE(eventually(
      [&] { return kernel_.with([](FakePolicyKernel& k) { return k.filter_reads; }) >= r0 + 3; }));
  kernel_.with([&](FakePolicyKernel& k) {
    k.flushChain(conf::Family::kV4, chain);
    return 0;
  });
  EXPECT_TRUE(eventually([&] {
    return !kernel_.with([&](FakePolicyKernel& k) { return k.rules(conf::Family::kV4, chain); })
                .empty();
  }));
}

// Another program changes nftables all the time: every tick sees the generation move, but a
// full read (here 40 ms) starts at most once per max(period, 2 x its duration), so the worker
// spends at most about half its time reading. Unbounded it would be 40 of every 45 ms.
TEST_F(PolicyAgentTest, ConstantForeignChangesReadTheTableAtMostHalfTheTime) {
  const auto read_time = std::chrono::milliseconds(40);
  PolicyAgent agent{view_, applier_, {{"n1", {ip("10.250.0.2")}}, std::chrono::milliseconds(5)}};
  syncView({pod("x", "a", {{"app", "a"}}, "10.244.1.2")}, {denyAll("x")});
  agent.start();
  ASSERT_TRUE(eventually([&] { return agent.stats().ready; }));
  kernel_.with([&](FakePolicyKernel& k) {
    k.churn = true;
    k.filter_read_delay = read_time;
    return 0;
  });
  const auto started = Clock::now();
  const int r0 = kernel_.with([](FakePolicyKernel& k) { return k.filter_reads; });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const int reads = kernel_.with([](FakePolicyKernel& k) { return k.filter_reads; }) - r0;
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  agent.stop();
  const double busy = reads * std::chrono::duration<double>(read_time).count();
  EXPECT_GE(reads, 5);  // changes are still looked at
  EXPECT_LE(busy / elapsed, 0.6) << reads << " reads in " << elapsed << " s";
}

// The kernel refuses: the ADD fails (fail closed) with the reason, and the next one succeeds.
TEST_F(PolicyAgentTest, KernelFailureFailsTheAddThenRecovers) {
  syncView({}, {denyAll("x")});
  agent_.start();
  ASSERT_TRUE(eventually([&] { return agent_.stats().ready; }));
  kernel_.with([](FakePolicyKernel& k) {
    k.fail_set_changes = 1;
    return 0;
  });
  auto s = agent_.podStarting("c1/eth0", {"x", "a", {ip("10.244.1.2")}, nullptr},
                              std::chrono::seconds(5));
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_GE(agent_.stats().sync_errors, 1u);
  s = agent_.podStarting("c1/eth0", {"x", "a", {ip("10.244.1.2")}, nullptr},
                         std::chrono::seconds(5));
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_TRUE(inSomeSet("10.244.1.2"));
}

// Pod events change set members without a compile; a failed member change falls back to a full
// sync in the same pass, so the ADD still succeeds.
TEST_F(PolicyAgentTest, PodEventsPatchMembersWithoutACompile) {
  syncView({pod("x", "a", {{"app", "a"}}, "10.244.1.2")}, {denyAll("x")});
  agent_.start();
  ASSERT_TRUE(eventually([&] { return agent_.stats().ready && inSomeSet("10.244.1.2"); }));
  const uint64_t syncs = agent_.stats().syncs;
  source_.sink_->event(Kind::kPod, ObjectEventType::kModified,
                       pod("x", "a", {{"app", "a"}}, "10.244.1.9"));
  EXPECT_TRUE(eventually([&] { return inSomeSet("10.244.1.9") && !inSomeSet("10.244.1.2"); }));
  auto s = agent_.podStarting("c1/eth0", {"x", "b", {ip("10.244.1.3")}, nullptr},
                              std::chrono::seconds(5));
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(inSomeSet("10.244.1.3"));
  EXPECT_EQ(agent_.stats().syncs, syncs);
  EXPECT_GE(agent_.stats().pod_updates, 2u);
  kernel_.with([](FakePolicyKernel& k) {
    k.fail_set_changes = 1;
    return 0;
  });
  s = agent_.podStarting("c2/eth0", {"x", "c", {ip("10.244.1.4")}, nullptr},
                         std::chrono::seconds(5));
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(inSomeSet("10.244.1.4"));
  EXPECT_EQ(agent_.stats().syncs, syncs + 1);
  auto v = agent_.explain("x", "c", "x", "a", 80, netpolicy::Protocol::kTcp);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->allowed);
}

// With no policy at all nothing is to be enforced: a kernel that refuses (no ipset module) does
// not stop pods from starting.
TEST_F(PolicyAgentTest, NoPolicyNoFailureFromTheKernel) {
  syncView();
  kernel_.with([](FakePolicyKernel& k) {
    k.fail_set_changes = 1000;
    return 0;
  });
  agent_.start();
  auto s = agent_.podStarting("c1/eth0", {"x", "a", {ip("10.244.1.2")}, nullptr},
                              std::chrono::seconds(5));
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_GE(agent_.stats().sync_errors, 1u);
  EXPECT_FALSE(agent_.stats().ready);
}

TEST_F(PolicyAgentTest, ExplainUsesTheLastSyncedModel) {
  EXPECT_TRUE(absl::IsFailedPrecondition(
      agent_.explain("x", "a", "x", "b", 80, netpolicy::Protocol::kTcp).status()));
  syncView(
      {pod("x", "a", {{"app", "a"}}, "10.244.1.2"), pod("x", "b", {{"app", "b"}}, "10.244.1.3")},
      {denyAll("x")});
  agent_.start();
  ASSERT_TRUE(eventually([&] { return agent_.stats().ready; }));
  auto v = agent_.explain("x", "a", "x", "b", 80, netpolicy::Protocol::kTcp);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->allowed);
  ASSERT_EQ(v->ingress.isolating.size(), 1u);
  EXPECT_EQ(v->ingress.isolating[0].policy_name, "deny");
  EXPECT_TRUE(absl::IsNotFound(
      agent_.explain("x", "a", "x", "nope", 80, netpolicy::Protocol::kTcp).status()));
}

}  // namespace
}  // namespace quasar::daemon
